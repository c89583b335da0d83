"""Generate the refusal table of ``docs/supervisor.md`` from ``errors.EXPLANATIONS``.

    python -m supervisor_api.docgen           # rewrite the generated section
    python -m supervisor_api.docgen --check   # exit 1 when it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from pam_protocol.docsync import splice, sync
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
    return splice(text, BEGIN, END, generated(), str(DOC))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return sync(DOC, BEGIN, END, generated(), argv, "python -m supervisor_api.docgen")


if __name__ == "__main__":
    raise SystemExit(main())
