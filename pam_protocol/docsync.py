"""Keep a generated section of a Markdown document up to date (``--check`` in tests).

A section runs from its BEGIN marker line to its END marker line; the generator
returns it markers included, so the document reads the same before and after.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path


def splice(text: str, begin: str, end: str, section: str, where: str = "document") -> str:
    """``text`` with its generated section replaced by ``section``."""
    head, sep, rest = text.partition(begin)
    if not sep:
        raise ValueError(f"{where}: no line {begin!r}")
    _, sep, tail = rest.partition(end)
    if not sep:
        raise ValueError(f"{where}: no line {end!r}")
    return head + section + tail


def sync(path: Path, begin: str, end: str, section: str, argv: Sequence[str],
         regenerate: str) -> int:
    """Rewrite the section, or with ``--check`` in ``argv`` only say (exit 1) it is stale."""
    text = path.read_text()
    new = splice(text, begin, end, section, str(path))
    if "--check" in argv:
        if new != text:
            print(f"{path} is out of date: run `{regenerate}`", file=sys.stderr)
            return 1
        return 0
    path.write_text(new)
    return 0
