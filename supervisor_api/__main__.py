"""`pam-supervisor` (see supervisor_api/cli.py)."""

from __future__ import annotations

from supervisor_api.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
