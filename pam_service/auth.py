"""Roles by the broker-checked AMQP ``user_id`` (PROTOCOL.md, Security).

The roles file is TOML::

    development = false          # true: an agent user may command any agent
    [users.desk-a17]
    role = "agent"
    agents = ["a17"]
    [users.ops]
    role = "supervisor"

With no file, the development default applies: ``guest`` (and a message without
``user_id``) is ``admin``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from pam_protocol import messages as m

Role = Literal["agent", "supervisor", "blender", "dialer", "acd", "admin"]
#: ``acd``: the inbound side (v1.1), which may send only InboundCallStarted/Ended.
ROLES: tuple[Role, ...] = ("agent", "supervisor", "blender", "dialer", "acd", "admin")

#: Each role's commands, from the commands' own ``senders`` (pam_protocol.messages).
ALLOWED: dict[Role, frozenset[str]] = {
    role: frozenset(t.__name__ for t in m.COMMAND_TYPES if role in t.senders)
    for role in ROLES if role != "admin"} | {"admin": m.COMMAND_NAMES}


class UserSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``[users.<name>]`` in the roles file."""

    role: Role
    agents: list[Annotated[str, msgspec.Meta(min_length=1)]] = []


class RolesFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The roles file (``--roles``), as docs/security.md shows it."""

    development: bool = False
    anonymous_role: Role | None = None
    users: dict[str, UserSpec] = {}


@dataclass(frozen=True)
class User:
    role: Role
    agents: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Policy:
    users: dict[str, User] = field(default_factory=dict)
    development: bool = False
    #: Role of a message without ``user_id`` (None: refused).
    anonymous: Role | None = None

    @classmethod
    def development_default(cls) -> Policy:
        return cls(users={"guest": User("admin")}, development=True, anonymous="admin")

    @classmethod
    def load(cls, path: str | Path | None) -> Policy:
        """Read the roles file, decoded into typed structs: an unknown key (a typo) or a
        value of the wrong type is an error naming where, never silently ignored."""
        if path is None:
            return cls.development_default()
        try:
            doc = msgspec.toml.decode(Path(path).read_bytes(), type=RolesFile)
        except msgspec.ValidationError as e:
            raise ValueError(f"{path}: {e} (roles: {', '.join(ROLES)}; docs/security.md "
                             f"shows the file's keys)") from None
        except msgspec.DecodeError as e:
            raise ValueError(f"{path} is not valid TOML: {e}") from None
        return cls(users={name: User(u.role, frozenset(u.agents)) for name, u in doc.users.items()},
                   development=doc.development, anonymous=doc.anonymous_role)

    def check(self, user_id: str | None, cmd: m.Command) -> str | None:
        """None when allowed, else the reason for ``Unauthorized``."""
        name = type(cmd).__name__
        if user_id is None:
            if self.anonymous is None:
                return "the command carries no user_id"
            user = User(self.anonymous)
        else:
            found = self.users.get(user_id)
            if found is None:
                return f"user {user_id!r} has no role"
            user = found
        if name not in ALLOWED[user.role]:
            return f"role {user.role!r} may not send {name}"
        if user.role == "agent" and not self.development:
            agent_id = getattr(cmd, "agent_id", None)
            if agent_id not in user.agents:
                return f"user {user_id!r} may command only agents {sorted(user.agents)}"
        return None
