"""One valid example of every command, and hostile mutations of them: the seeds of the
hostile-input tests and of bench/hostile.py."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

from pam_protocol import messages as m

_DUE = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
_CUSTOMER = {"name": "Ada Lovelace", "phone": "+441234567890", "account": "A-1001"}

COMMAND_EXAMPLES: tuple[m.Command, ...] = (
    m.Login(agent_id="a1001", zone="z1", extension="4001",
            skills=[m.Skill(name="sales", level=5)], time_zone="Europe/London",
            locale="en_GB", agent_name="Sam Agent"),
    m.Ready(agent_id="a1001"),
    m.NotReady(agent_id="a1001", reason_code=12, reason="Lunch", walkaway=False),
    m.Logout(agent_id="a1001"),
    m.PendingLogout(agent_id="a1001"),
    m.PreviewDial(agent_id="a1001", session_id="s-77"),
    m.PreviewCancel(agent_id="a1001", session_id="s-77"),
    m.Redial(agent_id="a1001", session_id="s-77"),
    m.HoldCall(agent_id="a1001"),
    m.UnholdCall(agent_id="a1001"),
    m.Consult(agent_id="a1001", target_agent_id="a1002"),
    m.CancelConsult(agent_id="a1001"),
    m.RejectConsult(agent_id="a1002", from_agent_id="a1001"),
    m.Transfer(agent_id="a1001"),
    m.Conference(agent_id="a1001"),
    m.EndConference(agent_id="a1001"),
    m.ChangeConferenceOwner(agent_id="a1001"),
    m.WrapupContact(agent_id="a1001", session_id="s-77", completion_code="Sale"),
    m.ExtendWrapup(agent_id="a1001"),
    m.HangUp(agent_id="a1001", session_id="c-9001"),
    m.DesktopHeartbeat(agent_id="a1001"),
    m.InboundCallStarted(agent_id="a1001", call_id="acd-311"),
    m.InboundCallEnded(agent_id="a1001", call_id="acd-311"),
    m.CreateCallback(agent_id="a1001", session_id="s-77", due_time=_DUE,
                     target_agent_id="a1002"),
    m.SaveAgentForHA(agent_id="a1001", data={"screen": "order-form", "step": 3}),
    m.GetAgentStatus(agent_id="a1001"),
    m.ListCallbackAgents(agent_id="a1001"),
    m.ReleaseFromOutbound(agent_id="a1001", thrash_seconds=300),
    m.ForceNotReady(agent_id="a1001", reason_code=31, reason="Coaching session"),
    m.ForceLogout(agent_id="a1001"),
    m.MoveAgentToJob(agent_id="a1001", job_id="renewals"),
    m.GetZoneStatus(zone="z1"),
    m.BlendToInbound(agent_id="a1001"),
    m.BlendToOutbound(agent_id="a1001"),
    m.JobStarted(job_id="renewals", action_name="call", zone="z1",
                 campaign_type="progressive", required_skills=["sales"], min_agents=2,
                 max_agents=50, priority=5, licenses=40, completion_codes=["Sale", "NoSale"],
                 default_completion_code="NoSale", wrapup_seconds=30, wrapup_extensions=1),
    m.JobPaused(job_id="renewals"),
    m.JobResumed(job_id="renewals"),
    m.JobEnded(job_id="renewals"),
    m.CustomerConnected(job_id="renewals", call_id="c-9001", customer=_CUSTOMER),
    m.PreviewContactReady(job_id="renewals", contact_id="p-501", customer=_CUSTOMER),
    m.CallbackDue(job_id="renewals", callback_id="cb-42", agent_id="a1001", due_time=_DUE,
                  customer=_CUSTOMER),
    m.DialResult(agent_id="a1001", session_id="s-77", result="answered"),
    m.CustomerDisconnected(call_id="c-9001"),
    m.NailingEstablished(agent_id="a1001"),
    m.NailingDropped(agent_id="a1001"),
)


def example(name: str) -> m.Command:
    """The example of the command type called ``name``."""
    return next(c for c in COMMAND_EXAMPLES if type(c).__name__ == name)


def hostile_bodies(rng: random.Random, n: int) -> list[bytes]:
    """Seeded hostile input: mutated examples, deep nests, bad UTF-8, junk bytes."""
    seeds = [m.encoder.encode(c) for c in COMMAND_EXAMPLES]
    out: list[bytes] = []
    while len(out) < n:
        b = rng.choice(seeds)
        kind = rng.randrange(7)
        if kind == 0:
            d = rng.randrange(33, 3000)
            b = b[:-1] + b',"x":' + b"[" * d + b"]" * d + b"}"
        elif kind == 1:
            b = b.replace(b'":"', b'":"' + rng.choice([b"\xff", b"\xc3(", b"\xed\xa0\x80"]), 1)
        elif kind == 2:
            i = rng.randrange(len(b))
            b = b[:i] + bytes([rng.randrange(256)]) + b[i + 1:]
        elif kind == 3:
            b = b[:rng.randrange(len(b))]
        elif kind == 4:
            b = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        elif kind == 5:  # a required field dropped
            raw = json.loads(b)
            keys = [k for k in raw if k != "type"]
            if keys:
                del raw[rng.choice(keys)]
            b = json.dumps(raw).encode()
        else:
            b = b.replace(b'"type":"', b'"type":"X', 1)
        try:
            m.command_decoder.decode(b)
        except Exception:  # only what the plain decoder refuses (or chokes on) counts
            out.append(b)
    return out
