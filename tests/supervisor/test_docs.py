"""docs/supervisor.md carries the refusal table generated from errors.EXPLANATIONS."""

from __future__ import annotations

from supervisor_api import docgen


def test_refusal_table_of_docs_supervisor_is_current() -> None:
    text = docgen.DOC.read_text()
    assert docgen.render(text) == text, "run: python -m supervisor_api.docgen"
