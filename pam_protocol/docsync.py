"""Keep a generated section of a Markdown document up to date (``--check`` in tests).

A section runs from its BEGIN marker line to its END marker line; the generator
returns it markers included, so the document reads the same before and after.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def clean_docstrings(schema: Any) -> Any:
    """``schema`` (a JSON Schema as dicts and lists) with every ``title`` and ``description``
    string dedented as :func:`inspect.cleandoc` does: msgspec copies class docstrings into
    them, and its versions differ in whether they strip the indentation (0.23 does, 0.22
    does not), so generated documents must not depend on that choice."""
    if isinstance(schema, dict):
        return {k: inspect.cleandoc(v) if k in ("title", "description") and isinstance(v, str)
                else clean_docstrings(v) for k, v in schema.items()}
    if isinstance(schema, list | tuple):  # tuple: what msgspec.json.schema_components returns
        return type(schema)(clean_docstrings(v) for v in schema)
    return schema


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
