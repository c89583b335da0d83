"""Generate docs/schemas/protocol.schema.json and docs/asyncapi.json from the msgspec types.

Usage: python tools/gen_protocol_docs.py [--check]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from pam_protocol import messages as m
from pam_protocol import topology
from pam_protocol.docsync import clean_docstrings
from pam_protocol.examples import COMMAND_EXAMPLES

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "docs" / "schemas" / "protocol.schema.json"
ASYNCAPI = ROOT / "docs" / "asyncapi.json"

UNIONS: dict[str, Any] = {"Command": m.AnyCommand, "Reply": m.AnyReply, "Event": m.AnyEvent}


def with_examples(components: dict[str, Any]) -> dict[str, Any]:
    """Each command's schema carries its example (pam_protocol.examples): a valid body
    for integrators, and the seeds the hostile-input tests mutate."""
    for c in COMMAND_EXAMPLES:
        components[type(c).__name__]["examples"] = [msgspec.to_builtins(c)]
    return components


def schema() -> dict[str, Any]:
    (cmd, rep, ev), components = clean_docstrings(msgspec.json.schema_components(
        [m.AnyCommand, m.AnyReply, m.AnyEvent], ref_template="#/$defs/{name}"))
    components = with_examples(components)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "PAM wire contract v1",
            "$defs": {**components, "Command": cmd, "Reply": rep, "Event": ev}}


def _names(union: Any) -> list[str]:
    return sorted(t.__name__ for t in union.__args__)


def asyncapi() -> dict[str, Any]:
    (_,), components = clean_docstrings(msgspec.json.schema_components(
        [m.AnyCommand | m.AnyReply | m.AnyEvent], ref_template="#/components/schemas/{name}"))
    components = with_examples(components)

    def msgs(names: list[str]) -> dict[str, Any]:
        return {"oneOf": [{"$ref": f"#/components/messages/{n}"} for n in names]}

    messages = {n: {"name": n, "contentType": "application/json",
                    "payload": {"$ref": f"#/components/schemas/{n}"}}
                for n in _names(m.AnyCommand) + _names(m.AnyReply) + _names(m.AnyEvent)}
    return {
        "asyncapi": "2.6.0",
        "info": {"title": "PAM", "version": "1.0.0",
                 "description": "PAM's wire contract: commands in, replies and events out."},
        "defaultContentType": "application/json",
        "channels": {
            "pam.commands/{zone}": {
                "description": "Direct exchange; routing key = zone; persistent, mandatory; "
                               "message_id required; reply_to/correlation_id optional.",
                "parameters": {"zone": {"schema": {"type": "string"}}},
                "subscribe": {"operationId": "sendCommand", "message": msgs(_names(m.AnyCommand))},
            },
            "{reply_to}": {
                "description": "Exactly one reply per command with reply_to, same correlation_id.",
                "parameters": {"reply_to": {"schema": {"type": "string"}}},
                "publish": {"operationId": "receiveReply", "message": msgs(_names(m.AnyReply))},
            },
            **{f"{topology.EVENTS}/{r.template}": {
                "parameters": {p: {"schema": {"type": "string"}} for p in r.parts},
                "publish": {"operationId": r.operation, "message": msgs(r.types())}}
               for r in m.ROUTES.values()},
        },
        "components": {"messages": messages, "schemas": components},
    }


def render() -> dict[Path, str]:
    return {SCHEMA: json.dumps(schema(), indent=2, sort_keys=True) + "\n",
            ASYNCAPI: json.dumps(asyncapi(), indent=2, sort_keys=True) + "\n"}


def main(argv: list[str]) -> int:
    stale = []
    for path, text in render().items():
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"out of date: {stale}; run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
