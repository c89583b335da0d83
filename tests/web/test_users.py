"""The dashboard's users file: roles, hashed passwords, agent limits, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor_api.web.users import Users, UsersError, hash_password


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "users.toml"
    p.write_text(text)
    return p


def test_users_file_with_roles_hashes_and_agent_limits(tmp_path: Path) -> None:
    h = hash_password("pw-maria")
    users = Users.load(write(tmp_path, f'''
[users.maria]
role = "supervisor"
password_hash = "{h}"
agents = ["a17", "a18"]
[users.olga]
role = "viewer"
password_hash = "{hash_password('pw-olga')}"
'''))
    assert not users.development
    maria = users.check("maria", "pw-maria")
    assert maria is not None and maria.can_act and maria.sees("a17") and not maria.sees("a1")
    olga = users.check("olga", "pw-olga")
    assert olga is not None and not olga.can_act and olga.sees("anyone")
    assert users.check("maria", "pw-olga") is None
    assert users.check("nobody", "pw-maria") is None
    assert "pw-maria" not in (tmp_path / "users.toml").read_text()


@pytest.mark.parametrize("text, words", [
    ('[users.x]\nrole = "boss"\npassword_hash = "$argon2id$x"',
     r"Invalid enum value 'boss'.*role.*roles: viewer, supervisor"),
    ('[users.x]\nrole = "viewer"\npassword_hash = "plain"', "hash-password"),
    ('[users.x]\nrole = "viewer"\npassword_hash = "$argon2id$x"\nagents = "a1"',
     r"Expected `array.*agents"),
    # a typo is an error, not a key silently ignored (a user left without restriction)
    ('[users.x]\nrole = "viewer"\npassword_hash = "$argon2id$x"\nagnets = ["a1"]',
     "unknown field `agnets`"),
    ("", "nobody could log in"),
    ("[users.x", "not valid TOML"),
])
def test_a_bad_users_file_says_what_is_wrong(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(UsersError, match=words):
        Users.load(write(tmp_path, text))


def test_missing_file_and_development_default(tmp_path: Path) -> None:
    with pytest.raises(UsersError, match="not found"):
        Users.load(tmp_path / "nope.toml")
    dev = Users.load(None)
    assert dev.development
    admin = dev.check("admin", "admin")
    assert admin is not None and admin.can_act
    viewer = dev.check("viewer", "viewer")
    assert viewer is not None and not viewer.can_act
