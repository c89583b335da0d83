"""docs/blender.md carries the schema and the policy figures generated from the types."""

from __future__ import annotations

from blender import schema


def test_generated_section_of_docs_blender_is_current() -> None:
    text = schema.DOC.read_text()
    assert schema.render(text) == text, "run: python -m blender.schema"


def test_schema_requires_a_zone_and_a_timezone_aware_ts() -> None:
    s = schema.demand_schema()["$defs"]["InboundDemand"]
    assert {"zone", "waiting_calls", "service_level", "ts"} <= set(s["required"])
    assert s["properties"]["service_level"]["maximum"] == 1.0
