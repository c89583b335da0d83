"""`make demo`: the main job. Until the load-testing harness lands it says what is missing."""

from __future__ import annotations

import sys


def main() -> int:
    print("make demo: the contact-center simulation is not built yet.\n"
          "Done so far: the agent state machine (make test runs it).\n"
          "Missing: the PAM service on RabbitMQ/Redis, the dispatcher call flows,\n"
          "the blender and the load-testing harness (issues 3-6).", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
