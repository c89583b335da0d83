"""The service fixtures (a real PAM on a private vhost and Redis prefix)."""

from tests.service.conftest import pam, vhost  # noqa: F401
