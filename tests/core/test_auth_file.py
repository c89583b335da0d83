"""The roles file is decoded into typed structs: typos and wrong types are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pam_protocol import messages as m
from pam_service.auth import Policy


@pytest.mark.parametrize(("text", "words"), [
    ('development = "false"\n', r"Expected `bool`, got `str` - at `\$.development`"),
    ('[users.desk]\nrole = "agent"\nagnets = ["a1"]\n', "unknown field `agnets`"),
    ('[users.desk]\nrole = "boss"\n', r"Invalid enum value 'boss'.*roles: agent, supervisor"),
    ('anonymous_role = "root"\n', "anonymous_role"),
    ("[users.desk\n", "not valid TOML"),
])
def test_a_bad_roles_file_says_what_and_where(tmp_path: Path, text: str, words: str) -> None:
    f = tmp_path / "roles.toml"
    f.write_text(text)
    with pytest.raises(ValueError, match=words):
        Policy.load(f)


def test_the_shipped_roles_file_loads_and_binds_desktops_to_their_agents() -> None:
    p = Policy.load(Path(__file__).parents[2] / "infra" / "pam" / "roles.toml")
    assert not p.development
    agent_users = [u for u, spec in p.users.items() if spec.role == "agent"]
    assert agent_users
    user = agent_users[0]
    other = "not-" + "-".join(sorted(p.users[user].agents))
    assert p.check(user, m.Ready(agent_id=other)) is not None  # not its agent

