"""The generated part of docs/state-machine.md matches the table."""

from __future__ import annotations

from pathlib import Path

from pam_protocol.docsync import clean_docstrings
from tools import gen_protocol_docs, render_state_diagram

ROOT = Path(__file__).parents[2]


def test_state_machine_doc_is_generated_from_the_current_table() -> None:
    assert render_state_diagram.main(["x", str(ROOT / "docs/state-machine.md"), "--check"]) == 0


def test_diagram_has_an_edge_for_scenario_one() -> None:
    assert "NotReady --> Ready: Ready" in render_state_diagram.render()


def test_protocol_schema_and_asyncapi_are_generated_from_the_current_types() -> None:
    assert gen_protocol_docs.main(["x", "--check"]) == 0


def test_docstrings_render_the_same_whatever_msgspec_does_with_their_indentation() -> None:
    # msgspec 0.22 copied a class docstring's indentation into the schema, 0.23 strips it
    as_022 = {"$defs": {"A": {"title": "A", "description": "First line.\n\n    More;\n    end."}},
              "anyOf": ({"description": "x\n    y"},)}
    as_023 = {"$defs": {"A": {"title": "A", "description": "First line.\n\nMore;\nend."}},
              "anyOf": ({"description": "x\ny"},)}
    assert clean_docstrings(as_022) == clean_docstrings(as_023) == as_023
