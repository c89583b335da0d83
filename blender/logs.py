"""The blender logs like PAM: one JSON object per line (pam_service.logs)."""

from pam_service.logs import JsonFormatter, setup

__all__ = ["JsonFormatter", "setup"]
