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

from blender.messages import InboundDemand
from blender.policy import PolicyConfig

DOC = Path(__file__).resolve().parent.parent / "docs" / "blender.md"
BEGIN = "<!-- BEGIN GENERATED: python -m blender.schema -->"
END = "<!-- END GENERATED -->"


def demand_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of ``InboundDemand``."""
    schema = msgspec.json.schema(InboundDemand)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def policy_table() -> str:
    props = msgspec.json.schema(PolicyConfig)["$defs"]["PolicyConfig"]["properties"]
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
    head, sep, rest = text.partition(BEGIN)
    if not sep:
        raise ValueError(f"{DOC}: no line {BEGIN!r}")
    _, sep, tail = rest.partition(END)
    if not sep:
        raise ValueError(f"{DOC}: no line {END!r}")
    return head + generated() + tail


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = DOC.read_text()
    new = render(text)
    if "--check" in argv:
        if new != text:
            print(f"{DOC} is stale: run python -m blender.schema", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
