"""Generate the refusal table of ``docs/supervisor.md`` from ``errors.EXPLANATIONS``.

    python -m supervisor_api.docgen           # rewrite the generated section
    python -m supervisor_api.docgen --check   # exit 1 when it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from supervisor_api.errors import EXPLANATIONS

DOC = Path(__file__).resolve().parent.parent / "docs" / "supervisor.md"
BEGIN = "<!-- BEGIN GENERATED: python -m supervisor_api.docgen -->"
END = "<!-- END GENERATED -->"


def generated() -> str:
    rows = ["| code | what pam-supervisor says | what to do |", "|---|---|---|"]
    for code, e in EXPLANATIONS.items():
        rows.append(f"| `{code}` | {e.sentence} | {e.hint} |")
    return "\n".join([BEGIN, "", *rows, "", END])


def render(text: str) -> str:
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise ValueError(f"{DOC}: the generated section's markers are missing")
    return head + generated() + tail


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = DOC.read_text()
    new = render(text)
    if "--check" in argv:
        if new != text:
            print(f"{DOC} is stale: run python -m supervisor_api.docgen", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
