"""The input rules (PROTOCOL.md v1.1), pure: whatever the bytes, decoding gives a typed
command or raises BadInput with a contract code, nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pam_protocol import decoding
from pam_protocol import messages as m
from pam_protocol.examples import COMMAND_EXAMPLES, example

CODES = {"BadRequest", "UnknownCommand"}


def depth(v: Any) -> int:
    if isinstance(v, dict):
        return 1 + max((depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((depth(x) for x in v), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\u00e9', max_size=6),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
        st.text(alphabet='[]{}"\\x', max_size=4), kids, max_size=3),
    max_leaves=60)


@settings(max_examples=400, deadline=None)
@given(v=json_values, limit=st.integers(min_value=0, max_value=12),
       indent=st.sampled_from([None, 1]))
def test_too_deep_agrees_with_the_parsed_depth(v: Any, limit: int, indent: int | None) -> None:
    body = json.dumps(v, indent=indent, ensure_ascii=False).encode()
    assert decoding.too_deep(body, limit) == (depth(v) > limit)


def nested(n: int) -> bytes:
    return b'{"type":"Ready","agent_id":"x","deep":' + b"[" * n + b"]" * n + b"}"


def test_the_deep_body_of_the_report_is_bad_request_not_a_recursion_error() -> None:
    with pytest.raises(decoding.BadInput) as e:
        decoding.decode_command(nested(5000))
    assert e.value.code == "BadRequest" and "deeper than 32" in e.value.message
    # 31 levels inside the command object: 32 in all, the most allowed
    assert isinstance(decoding.decode_command(nested(31)), m.Ready)
    with pytest.raises(decoding.BadInput):
        decoding.decode_command(nested(32))


def test_brackets_inside_strings_do_not_count() -> None:
    body = json.dumps({"type": "Ready", "agent_id": "[" * 60 + '{"' * 30}).encode()
    assert isinstance(decoding.decode_command(body), m.Ready)


@pytest.mark.parametrize("body", [
    b'{"type":"GetAgentStatus","agent_id":"A","\xff":1}',
    b'{"type":"Login","agent_id":"A","zone":"z1","extension":"1","skills":[],'
    b'"time_zone":"UTC","locale":"en_US","x":"\xff"}',
    b'{"type":"Ready","agent_id":"A","x":"\xc0\xaf"}',  # an overlong encoding
    b'{"type":"Ready","agent_id":"A","x":"\xed\xa0\x80"}',  # a surrogate, UTF-8 encoded
])
def test_invalid_utf8_anywhere_is_bad_request(body: bytes) -> None:
    with pytest.raises(decoding.BadInput) as e:
        decoding.decode_command(body)
    assert e.value.code == "BadRequest" and "UTF-8" in e.value.message


@pytest.mark.parametrize(("cmd", "drop"), [
    ("Login", "skills"), ("Login", "time_zone"), ("Login", "locale"), ("Login", "extension"),
    ("JobStarted", "default_completion_code"), ("JobStarted", "min_agents"),
    ("JobStarted", "max_agents"), ("JobStarted", "licenses"), ("JobStarted", "priority"),
    ("JobStarted", "completion_codes"), ("JobStarted", "required_skills"),
    ("JobStarted", "wrapup_seconds"), ("JobStarted", "wrapup_extensions"),
    ("CustomerConnected", "customer"), ("PreviewContactReady", "customer"),
    ("NotReady", "reason_code"), ("DialResult", "result"),
])
def test_a_required_field_left_out_is_bad_request(cmd: str, drop: str) -> None:
    raw = msgspec.to_builtins(example(cmd))
    del raw[drop]
    with pytest.raises(decoding.BadInput) as e:
        decoding.decode_command(json.dumps(raw).encode())
    assert e.value.code == "BadRequest" and drop in e.value.message


def test_a_skill_without_level_is_bad_request() -> None:
    body = (b'{"type":"Login","agent_id":"A","zone":"z1","extension":"1",'
            b'"skills":[{"name":"sales"}],"time_zone":"UTC","locale":"en_US"}')
    with pytest.raises(decoding.BadInput, match="level"):
        decoding.decode_command(body)


def test_every_command_has_an_example_that_decodes_to_itself() -> None:
    assert {type(c).__name__ for c in COMMAND_EXAMPLES} == m.COMMAND_NAMES
    for c in COMMAND_EXAMPLES:
        assert decoding.decode_command(m.encoder.encode(c)) == c


def test_unknown_type_and_oversize() -> None:
    with pytest.raises(decoding.BadInput) as e:
        decoding.decode_command(b'{"type":"Nope","agent_id":"A"}')
    assert e.value.code == "UnknownCommand"
    with pytest.raises(decoding.BadInput) as e:
        decoding.decode_command(b" " * (decoding.MAX_COMMAND_BODY + 1))
    assert e.value.code == "BadRequest" and "exceeds" in e.value.message


def mutations(body: bytes) -> st.SearchStrategy[bytes]:
    """Byte-level damage and structural abuse of a valid body."""
    n = len(body)
    pos = st.integers(min_value=0, max_value=n)
    return st.one_of(
        st.tuples(pos, st.binary(min_size=1, max_size=8)).map(
            lambda t: body[:t[0]] + t[1] + body[t[0]:]),
        st.tuples(pos, pos).map(lambda t: body[:min(t)] + body[max(t):]),
        st.tuples(st.integers(min_value=0, max_value=n - 1), st.integers(0, 255)).map(
            lambda t: body[:t[0]] + bytes([t[1]]) + body[t[0] + 1:]),
        st.integers(min_value=1, max_value=3000).map(
            lambda d: body[:-1] + b',"deep":' + b"[" * d + b"]" * d + b"}"),
        st.integers(min_value=1, max_value=3000).map(
            lambda d: body[:-1] + b',"deep":' + b'{"a":' * d + b"1" + b"}" * d + b"}"),
        st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\\ud800", b'\\"', b"\xf4\x90\x80\x80"]).map(
            lambda junk: body.replace(b'":"', b'":"' + junk, 1)),
        st.just(body.replace(b'"type":', b'"type":[') + b"]"),
    )


#: The generated JSON Schema's own examples (docs/schemas/protocol.schema.json), as an
#: integrator reads them: the seeds of the mutations.
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "protocol.schema.json"
SCHEMA_EXAMPLES = [json.dumps(ex).encode()
                   for d in json.loads(SCHEMA.read_text())["$defs"].values()
                   for ex in d.get("examples", ())]
examples = st.sampled_from(SCHEMA_EXAMPLES)


def test_the_schema_carries_a_valid_example_of_every_command() -> None:
    decoded = [decoding.decode_command(body) for body in SCHEMA_EXAMPLES]
    assert {type(c).__name__ for c in decoded} == m.COMMAND_NAMES


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=examples.flatmap(mutations))
def test_mutated_examples_decode_or_are_rejected_with_a_contract_code(body: bytes) -> None:
    try:
        cmd = decoding.decode_command(body)
    except decoding.BadInput as e:
        assert e.code in CODES and e.message
    else:
        assert isinstance(cmd, m.Command)
        body.decode("utf-8")  # only a valid UTF-8 body decodes
        assert not decoding.too_deep(body)


@settings(max_examples=2000, deadline=None)
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes_are_rejected_with_a_contract_code(body: bytes) -> None:
    try:
        decoding.decode_command(body)
    except decoding.BadInput as e:
        assert e.code in CODES


def test_output_limits_carry_customer_data_at_the_deepest_a_command_may_send() -> None:
    """A customer record nested as deep as a command allows still reads back in a zone
    reply, which carries it further down (agents > snapshot > callbacks > customer)."""
    deep: Any = 1
    for _ in range(30):
        deep = {"k": deep}
    # the deepest customer a command may carry: 32 levels with the command's own object
    assert decoding.decode_command(m.encoder.encode(m.CustomerConnected(
        job_id="J", call_id="c", customer=deep))).customer == deep  # type: ignore[attr-defined]
    due = datetime(2026, 12, 4, 12, tzinfo=UTC)
    cb = m.PendingCallback(callback_id="cb", job_id="J", due_time=due, customer=deep)
    reply = m.Accepted(agents=[m.AgentSnapshot(
        agent_id="A", zone="z1", agent_state=m.AgentState("Ready"),
        call_state=m.CallState("Idle"), job_state=m.JobState("JobDetached"), version=1,
        since=due, pending_callbacks=(cb,))])
    body = m.encoder.encode(reply)
    assert decoding.too_deep(body)  # deeper than a command may be...
    assert decoding.decode(m.reply_decoder, body) == reply  # ...but within PAM's output


@pytest.mark.parametrize("cmd", ["CreateCallback", "CallbackDue"])
def test_a_time_without_its_utc_offset_is_bad_request(cmd: str) -> None:
    raw = msgspec.to_builtins(example(cmd))
    raw["due_time"] = "2026-12-04T15:30:00"
    with pytest.raises(decoding.BadInput, match="due_time"):
        decoding.decode_command(json.dumps(raw).encode())
