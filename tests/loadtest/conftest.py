from tests.service.conftest import pam, vhost

__all__ = ["pam", "vhost"]
