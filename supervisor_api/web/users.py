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

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

WebRole = Literal["viewer", "supervisor"]

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


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
            doc = tomllib.loads(p.read_text())
        except FileNotFoundError as e:
            raise UsersError(f"users file {p} not found: create it (see docs/dashboard.md) "
                             f"or leave --users unset for the development default") from e
        except tomllib.TOMLDecodeError as e:
            raise UsersError(f"users file {p} is not valid TOML: {e}") from e
        users: dict[str, WebUser] = {}
        for name, entry in (doc.get("users") or {}).items():
            where = f"{p}: [users.{name}]"
            role = entry.get("role")
            if role not in get_args(WebRole):
                raise UsersError(f"{where}: role must be one of {get_args(WebRole)}, "
                                 f"not {role!r}")
            h = entry.get("password_hash", "")
            if not str(h).startswith("$argon2"):
                raise UsersError(f"{where}: password_hash must be an Argon2 hash; make one "
                                 f"with `pam-supervisor hash-password`")
            agents = entry.get("agents")
            if agents is not None and not (isinstance(agents, list)
                                           and all(isinstance(a, str) for a in agents)):
                raise UsersError(f"{where}: agents must be a list of agent ids")
            users[name] = WebUser(name, role, h,
                                  frozenset(agents) if agents is not None else None)
        if not users:
            raise UsersError(f"{p} defines no [users.<name>] table: nobody could log in")
        return cls(users)


_DUMMY = hash_password("not a password anyone has")
