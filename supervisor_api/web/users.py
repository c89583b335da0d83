"""Dashboard users: who may log in, with which role, over which agents.

The users file is TOML (``--users`` or ``PAM_DASHBOARD_USERS``)::

    [users.maria]
    role = "supervisor"                      # or "viewer"
    password_hash = "$argon2id$v=19$..."     # pam-supervisor hash-password
    agents = ["a17", "a18"]                  # optional: only these agents

Passwords are kept only as Argon2id hashes. With no file the development default
applies (stated in the README): ``admin``/``admin`` (supervisor, every agent) and
``viewer``/``viewer`` (viewer). Never run the default where a browser other than yours
can reach the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

WebRole = Literal["viewer", "supervisor"]

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


class UserEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``[users.<name>]`` in the users file."""

    role: WebRole
    password_hash: str
    agents: list[str] | None = None


class UsersFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    users: dict[str, UserEntry] = {}


@dataclass(frozen=True)
class WebUser:
    name: str
    role: WebRole
    password_hash: str
    #: None: every agent; otherwise the only agents this user sees and acts on.
    agents: frozenset[str] | None = None

    @property
    def can_act(self) -> bool:
        return self.role == "supervisor"

    def sees(self, agent_id: str) -> bool:
        return self.agents is None or agent_id in self.agents


class UsersError(ValueError):
    """The users file is unusable; the message says where and what to do."""


@dataclass(frozen=True)
class Users:
    users: dict[str, WebUser]
    development: bool = False

    def check(self, name: str, password: str) -> WebUser | None:
        """The user if the password matches; None otherwise (same cost either way)."""
        user = self.users.get(name)
        try:
            _hasher.verify(user.password_hash if user else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    @classmethod
    def development_default(cls) -> Users:
        return cls({
            "admin": WebUser("admin", "supervisor", hash_password("admin")),
            "viewer": WebUser("viewer", "viewer", hash_password("viewer")),
        }, development=True)

    @classmethod
    def load(cls, path: str | Path | None) -> Users:
        if path is None:
            return cls.development_default()
        p = Path(path)
        try:
            doc = msgspec.toml.decode(p.read_bytes(), type=UsersFile)
        except FileNotFoundError as e:
            raise UsersError(f"users file {p} not found: create it (see docs/dashboard.md) "
                             f"or leave --users unset for the development default") from e
        except msgspec.ValidationError as e:
            raise UsersError(f"users file {p}: {e} (roles: viewer, supervisor; "
                             f"docs/dashboard.md shows the file's keys)") from None
        except msgspec.DecodeError as e:
            raise UsersError(f"users file {p} is not valid TOML: {e}") from None
        users: dict[str, WebUser] = {}
        for name, entry in doc.users.items():
            if not entry.password_hash.startswith("$argon2"):
                raise UsersError(f"{p}: [users.{name}]: password_hash must be an Argon2 hash; "
                                 f"make one with `pam-supervisor hash-password`")
            users[name] = WebUser(name, entry.role, entry.password_hash,
                                  frozenset(entry.agents) if entry.agents is not None else None)
        if not users:
            raise UsersError(f"{p} defines no [users.<name>] table: nobody could log in")
        return cls(users)


_DUMMY = hash_password("not a password anyone has")
