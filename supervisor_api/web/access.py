"""Who is asking: the session's user, and the guards of the dashboard's routes."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from supervisor_api.web.users import Users, WebUser


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> WebUser | None:
    session = connection.scope.get("session")
    name = session.get("user") if isinstance(session, dict) else None
    users: Users = connection.app.state.settings.users
    return users.users.get(name) if isinstance(name, str) else None


def logged_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if current_user(connection) is None:
        raise NotAuthorizedException("log in first (POST /api/login)")


def supervisor_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    user = current_user(connection)
    if user is None:
        raise NotAuthorizedException("log in first (POST /api/login)")
    if not user.can_act:
        raise PermissionDeniedException(
            f"user {user.name} is a viewer: actions need the supervisor role")


def user_of(request: Request[Any, Any, Any]) -> WebUser:
    user = current_user(request)
    assert user is not None, "the route is guarded by logged_in"
    return user
