"""A recorded event stream: a scripted morning of zone z1, played through PAM's pure
core with a fixed clock, numbered as the service numbers them (per-agent and per-job
``seq``), each with the time it was received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dispatcher_rs
from pam_protocol import messages as m
from pam_service.batch import scope_of
from pam_service.domain import machine as sm
from pam_service.domain.zone import PyPool, Zone

DAY = datetime(2026, 11, 26, tzinfo=UTC)
JOB = m.JobStarted(job_id="J", action_name="call", zone="z1", campaign_type="progressive",
                   required_skills=["sales"], completion_codes=["Sale", "NoSale"],
                   default_completion_code="NoSale", min_agents=0, max_agents=1_000_000,
                   priority=1, licenses=1_000_000, wrapup_seconds=30, wrapup_extensions=0)


def t(hms: str, day: datetime = DAY) -> datetime:
    h, mi, s = (int(x) for x in hms.split(":"))
    return day + timedelta(hours=h, minutes=mi, seconds=s)


class Recorder:
    def __init__(self, zone: str = "z1") -> None:
        self.zone = Zone(zone, PyPool(), dispatcher_rs.Allocator)
        self.seq: dict[str, int] = {}
        self.events: list[tuple[m.AnyEvent, datetime]] = []

    def at(self, hms: str, cmd: m.Command, *, ok: bool = True) -> None:
        now = t(hms)
        res = self.zone.handle(cmd, sm.Context(zone=self.zone.name, now=now))
        assert isinstance(res.reply, m.Accepted) == ok, (cmd, res.reply)
        for ev in res.events:
            scope = scope_of(ev)
            self.seq[scope] = self.seq.get(scope, 0) + 1
            numbered = m.event_decoder.decode(m.encoder.encode(ev).replace(
                b'"seq":0', b'"seq":%d' % self.seq[scope], 1))
            self.events.append((numbered, now))


def morning() -> list[tuple[m.AnyEvent, datetime]]:
    """Agents A and B on job J; every activity of the Agent Activity Details report."""
    r = Recorder()
    r.at("09:00:00", JOB)
    # no agent
    r.at("09:00:05", m.CustomerConnected(job_id="J", call_id="c0", customer={}), ok=False)
    skills = [m.Skill(name="sales", level=3)]
    r.at("09:01:00", m.Login(agent_id="A", zone="z1", extension="A", skills=skills,
                             time_zone="UTC", locale="en_US"))
    r.at("09:02:00", m.Ready(agent_id="A"))
    r.at("09:02:30", m.NailingEstablished(agent_id="A"))
    r.at("09:03:00", m.Login(agent_id="B", zone="z1", extension="B", skills=skills,
                             time_zone="UTC", locale="en_US"))
    r.at("09:03:10", m.Ready(agent_id="B"))
    r.at("09:03:20", m.NailingEstablished(agent_id="B"))
    r.at("09:05:00", m.CustomerConnected(job_id="J", call_id="c1", customer={}))  # A: longest idle
    r.at("09:06:00", m.HoldCall(agent_id="A"))
    r.at("09:06:30", m.UnholdCall(agent_id="A"))
    r.at("09:08:00", m.CustomerDisconnected(call_id="c1"))
    r.at("09:08:10", m.Redial(agent_id="A", session_id="c1"))
    r.at("09:08:15", m.DialResult(agent_id="A", session_id="c1", result="answered"))
    r.at("09:09:00", m.CustomerDisconnected(call_id="c1"))
    r.at("09:09:20", m.WrapupContact(agent_id="A", session_id="c1", completion_code="Sale"))
    r.at("09:10:00", m.CustomerConnected(job_id="J", call_id="c2", customer={}))  # B
    r.at("09:11:00", m.Consult(agent_id="B", target_agent_id="A"))
    r.at("09:12:00", m.Transfer(agent_id="B"))
    r.at("09:15:00", m.CustomerDisconnected(call_id="c2"))
    r.at("09:15:30", m.WrapupContact(agent_id="A", session_id="c2"))  # default code
    r.at("09:16:00", m.NotReady(agent_id="A", reason_code=12, reason="Lunch"))
    r.at("09:20:00", m.CustomerConnected(job_id="J", call_id="c3", customer={}))  # B
    r.at("09:21:00", m.Consult(agent_id="B", target_number="5550100"))
    r.at("09:22:00", m.Transfer(agent_id="B"))  # to the external number
    r.at("09:22:40", m.WrapupContact(agent_id="B", session_id="c3",
                                     completion_code=m.EXTERNAL_TRANSFER_CODE))
    r.at("09:30:00", m.Ready(agent_id="A"))
    r.at("09:40:00", m.NotReady(agent_id="A", reason_code=3))
    r.at("09:45:00", m.Logout(agent_id="A"))
    r.at("09:50:00", m.CustomerConnected(job_id="J", call_id="c4", customer={}))  # B
    return r.events


def afternoon() -> list[tuple[m.AnyEvent, datetime]]:
    """A preview job: preview, dial, consult turned conference, a Not Ready asked for
    during the call, a callback cancelled; C and D."""
    r = Recorder()
    r.at("13:00:00", m.JobStarted(job_id="P", action_name="preview", zone="z1",
                                  campaign_type="preview", required_skills=["sales"],
                                  completion_codes=["Sale", "NoSale"],
                                  default_completion_code="NoSale", min_agents=0,
                                  max_agents=1_000_000, priority=1, licenses=1_000_000,
                                  wrapup_seconds=30, wrapup_extensions=0))
    skills = [m.Skill(name="sales", level=3)]
    r.at("13:00:10", m.Login(agent_id="C", zone="z1", extension="C", skills=skills,
                             time_zone="UTC", locale="en_US"))
    r.at("13:00:20", m.SaveAgentForHA(agent_id="C", data={"form": 1}))  # still Login
    r.at("13:00:30", m.Ready(agent_id="C"))
    r.at("13:00:40", m.NailingEstablished(agent_id="C"))
    r.at("13:01:00", m.Login(agent_id="D", zone="z1", extension="D", skills=skills,
                             time_zone="UTC", locale="en_US"))
    r.at("13:01:10", m.Ready(agent_id="D"))
    r.at("13:01:20", m.NailingEstablished(agent_id="D"))
    r.at("13:02:00", m.PreviewContactReady(job_id="P", contact_id="p1", customer={}))  # C
    r.at("13:02:30", m.PreviewDial(agent_id="C", session_id="p1"))
    r.at("13:02:40", m.DialResult(agent_id="C", session_id="p1", result="answered"))
    r.at("13:03:00", m.Consult(agent_id="C", target_agent_id="D"))
    r.at("13:03:30", m.Conference(agent_id="C"))
    r.at("13:05:00", m.EndConference(agent_id="D"))
    r.at("13:05:10", m.NotReady(agent_id="C", reason_code=5, reason="Break"))  # pending
    r.at("13:06:00", m.CustomerDisconnected(call_id="p1"))
    r.at("13:06:20", m.WrapupContact(agent_id="C", session_id="p1", completion_code="Sale"))
    r.at("13:07:00", m.CallbackDue(job_id="P", callback_id="cb1"))  # D
    r.at("13:07:30", m.PreviewCancel(agent_id="D", session_id="cb1"))
    r.at("13:07:40", m.WrapupContact(agent_id="D", session_id="cb1"))
    return r.events
