"""Generate the parts of ``docs/blender.md`` that come from the types (never hand-copied).

    python -m blender.schema           # rewrite the generated section of docs/blender.md
    python -m blender.schema --check   # exit 1 when it is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from blender.policy import PolicyConfig
from pam_protocol.acd import InboundDemand
from pam_protocol.docsync import clean_docstrings, splice, sync

DOC = Path(__file__).resolve().parent.parent / "docs" / "blender.md"
BEGIN = "<!-- BEGIN GENERATED: python -m blender.schema -->"
END = "<!-- END GENERATED -->"


def demand_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of ``InboundDemand``."""
    schema = clean_docstrings(msgspec.json.schema(InboundDemand))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def policy_table() -> str:
    props = clean_docstrings(msgspec.json.schema(PolicyConfig))["$defs"]["PolicyConfig"][
        "properties"]
    rows = ["| figure | default | meaning |", "|---|---|---|"]
    for name, p in props.items():
        default = json.dumps(p["default"])
        rows.append(f"| `{name}` | `{default}` | {p['description']} |")
    return "\n".join(rows)


def generated() -> str:
    return "\n".join([
        BEGIN,
        "",
        "### `InboundDemand` (JSON Schema)",
        "",
        "```json",
        json.dumps(demand_schema(), indent=2),
        "```",
        "",
        "### `[policy]` figures and their defaults",
        "",
        policy_table(),
        "",
        END,
    ])


def render(text: str) -> str:
    return splice(text, BEGIN, END, generated(), str(DOC))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return sync(DOC, BEGIN, END, generated(), argv, "python -m blender.schema")


if __name__ == "__main__":
    raise SystemExit(main())
