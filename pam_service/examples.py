"""One valid example of every command: shown in the generated JSON Schema and
AsyncAPI documents, and the seeds that the hostile-input tests mutate."""

from __future__ import annotations

from datetime import UTC, datetime

from pam_service import messages as m

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
    m.CreateCallback(agent_id="a1001", session_id="s-77", due_time=_DUE,
                     target_agent_id="a1002"),
    m.SaveAgentForHA(agent_id="a1001", data={"screen": "order-form", "step": 3}),
    m.GetAgentStatus(agent_id="a1001"),
    m.ListCallbackAgents(agent_id="a1001"),
    m.ReleaseFromOutbound(agent_id="a1001", thrash_seconds=300),
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
