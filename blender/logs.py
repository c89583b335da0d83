"""The blender logs like PAM: one JSON object per line (pam_protocol.logs)."""

from pam_protocol.logs import JsonFormatter, setup

__all__ = ["JsonFormatter", "setup"]
