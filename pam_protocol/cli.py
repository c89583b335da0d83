"""What every PAM command line shares: the exit statuses, ``--version``, ``--log-level``
with its choices, environment-variable defaults shown in the help, checked numbers, and
a one-line message instead of a traceback (docs/deployment.md, "Command lines")."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
from collections.abc import Callable
from typing import Any, NoReturn

#: The exit statuses of pam-service, pam-blender, pam-supervisor and pam-loadtest.
EXIT_OK = 0
EXIT_FAILED = 1  # a command refused, or an unexpected failure (a bug: report it, log attached)
EXIT_USAGE = 2  # a bad flag, value, file, URL; credentials or a vhost the server refuses
EXIT_UNKNOWN_ZONE = 3  # no PAM serves the zone
EXIT_TIMEOUT = 4  # no reply in time
EXIT_UNREACHABLE = 5  # RabbitMQ, Redis or the report store cannot be reached
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT) where it interrupts rather than stops gracefully

EXIT_STATUS_EPILOG = """\
exit status (the same for every PAM command):
  0    done (a service: stopped by SIGTERM or Ctrl-C, gracefully)
  1    a command refused, or an unexpected failure (a bug: report it with the log)
  2    usage or configuration: a bad flag or value, an unreadable file, a URL,
       credentials or a vhost the server refuses (one line on stderr says what to do)
  3    no PAM serves the zone
  4    no reply in time
  5    RabbitMQ, Redis or the report store cannot be reached
  130  interrupted (Ctrl-C) before the work was done
"""

LOG_LEVELS = ("debug", "info", "warning", "error")


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line on stderr (not the usage block) and the
    exit status table as the epilog of every command and subcommand."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("epilog", EXIT_STATUS_EPILOG)
        kw.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kw)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def version() -> str:
    """PAM's version, as installed."""
    try:
        return importlib.metadata.version("pam")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def add_common(p: argparse.ArgumentParser, *, log_level: bool = True) -> None:
    """``--version`` and ``--log-level`` (env PAM_LOG_LEVEL), the same everywhere."""
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    if log_level:
        level = env("PAM_LOG_LEVEL", "info")
        p.add_argument("--log-level", choices=LOG_LEVELS,
                       default=level if level in LOG_LEVELS else "info",
                       help="log verbosity (env PAM_LOG_LEVEL; default %(default)s)")


def bounded(kind: Callable[[str], Any], low: float | None = None,
            high: float | None = None) -> Callable[[str], Any]:
    """An argparse type: ``kind`` within [low, high], else a usage error naming the range."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            span = (f"from {_num(low)} to {_num(high)}" if low is not None and high is not None
                    else f"at least {_num(low)}" if low is not None else f"at most {_num(high)}")
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a value {span}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _num(x: float | None) -> str:
    return f"{int(x):,}" if x is not None and float(x).is_integer() else str(x)


def port(text: str) -> int:
    value: int = bounded(int, 1, 65535)(text)
    return value
