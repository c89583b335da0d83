"""The agent state machine: POM's three sub-states as one scannable table.

Pure: no I/O, no clock (``Context.now`` is passed in), no randomness. The
entry point is :func:`apply`, which takes the agents and job-tasks a command
touches (a :class:`World`), the command and the context, and returns an
:class:`Outcome`: the new records, the events to announce and the reply.

The table :data:`TABLE` holds, per input type, an ordered list of entries.
An entry is either a :class:`Row` (a transition) or a :class:`Reject` (an
explicit refusal with its code). The first entry whose source states match and
whose guard holds decides. Guards are named pure predicates; effects are named
functions that stage changes on a :class:`Tx`. Every entry list ends in
guard-free entries that cover every state, so no (state, command) pair falls
through; ``tests/core/test_coverage.py`` proves it.

Two-agent operations (consult, transfer, conference) are one transition: the
effect changes both agents in the same :class:`Tx`, so they are committed, or
refused, together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from pam_protocol import messages as m
from pam_protocol.messages import Agent, JobTask, RejectCode
from pam_protocol.states import (
    BUSY_CALL_STATES,
    AgentState,
    CallState,
    JobState,
)
from pam_service.domain.steps import (
    ALL_A,
    ALL_C,
    ALL_J,
    ANY,
    END_OF_WORK_AGENT,
    END_OF_WORK_JOB,
    IDLE,
    NOT_INBOUND,
    ON_CALL,
    STAY,
    TALK,
    WORKING,
    A,
    AttachToJob,
    C,
    CallEnded,
    CompleteMove,
    Context,
    DesktopLost,
    DetachFromJob,
    Entry,
    Input,
    Internal,
    J,
    MarkUnknown,
    OfferContact,
    Outcome,
    Reject,
    ResolveUnknown,
    Row,
    Src,
    To,
    Tx,
    World,
    WrapupTimeout,
    available_for_contact,
    back_to_own_job,
    bad_completion_code,
    bad_consult_target,
    callback_for_job_unknown,
    cancel_pending_agent_state,
    cannot_take_callback,
    consult_outstanding,
    consult_to_external,
    dial_answered,
    do_attach,
    do_back_to_inbound,
    do_blend_inbound_now,
    do_blend_inbound_pending,
    do_blend_outbound_now,
    do_blend_outbound_pending,
    do_callback_now,
    do_callback_pending,
    do_cancel_move,
    do_cancel_pending_consult,
    do_cancel_pending_inbound,
    do_change_owner,
    do_complete_move,
    do_conference,
    do_consult_agent,
    do_consult_external,
    do_consult_pending,
    do_create_callback,
    do_customer_drop,
    do_desktop_lost,
    do_detach,
    do_dial_answered,
    do_end_conference,
    do_extend_wrapup,
    do_force_not_ready,
    do_hang_up,
    do_hold,
    do_inbound_ended,
    do_inbound_started,
    do_login,
    do_logout,
    do_mark_unknown,
    do_move_now,
    do_move_pending,
    do_nail_drop_busy,
    do_nail_drop_idle,
    do_nail_drop_mark,
    do_nailed,
    do_nailed_only,
    do_not_ready,
    do_offer,
    do_pending_logout,
    do_preview_dial,
    do_ready,
    do_redial,
    do_reject_consult,
    do_release_again,
    do_release_now,
    do_release_pending,
    do_resolve_unknown,
    do_save_for_ha,
    do_transfer,
    do_transfer_external,
    do_transfer_from_conference,
    do_unhold,
    do_wrapup_contact,
    do_wrapup_now,
    end_consult,
    extensions_left,
    has_incoming_pending_consult,
    has_outgoing_pending_consult,
    has_pending_activity,
    in_agent_consult_as_initiator,
    in_external_consult,
    in_thrash_interval,
    is_conference_owner,
    is_consult_initiator,
    is_consulted,
    is_passive_party,
    job_full,
    job_not_running,
    lacks_job_skills,
    noop,
    not_for_this_job,
    not_owner,
    not_this_inbound_call,
    on_a_job,
    on_inbound_call,
    other_inbound_call,
    same_job,
    session_mismatch,
    src,
    target_not_logged_in,
    target_pending_full,
    target_ready_idle,
    target_working,
    unknown_job,
    with_external_party,
    wrong_zone,
    zone_degraded,
)

# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------

NOT_LOGGED_IN = Reject(src(agent={A.LOGOUT}), "NotLoggedIn", "the agent is not logged in")
IN_DOUBT = Reject(src(agent={A.UNKNOWN}), "Unavailable",
                  "the agent's state is being resynchronised after a failover; "
                  "send GetAgentStatus or SaveAgentForHA")


def reject_rest(message: str, code: RejectCode = "InvalidTransition") -> Reject:
    return Reject(ANY, code, message)


TABLE: dict[type[Any], list[Entry]] = {
    # ---- session -------------------------------------------------------
    m.Login: [
        Reject(ANY, "BadRequest", "Login zone differs from the zone the command was sent to",
               guard=wrong_zone),
        Row(src(agent={A.LOGOUT}), To(A.NOT_READY, C.IDLE, J.JOB_DETACHED), do_login),
        reject_rest("the agent is already logged in", "AlreadyLoggedIn"),
    ],
    m.Logout: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(src(agent={A.NOT_READY}), To(A.LOGOUT, C.IDLE, J.JOB_DETACHED), do_logout),
        reject_rest("Logout is allowed only from NotReady; send NotReady first"),
    ],
    m.PendingLogout: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(src(agent=IDLE), To(A.LOGOUT, C.IDLE, J.JOB_DETACHED), do_logout),
        Row(src(agent={A.PENDING_LOGOUT}), STAY, noop),
        Row(src(agent=WORKING), To(A.PENDING_LOGOUT), do_pending_logout,
            note="logout when the current work ends"),
        reject_rest("PendingLogout is not possible now"),
    ],
    # ---- availability --------------------------------------------------
    m.Ready: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(src(agent={A.READY}), STAY, noop),
        Row(src(agent={A.NOT_READY}), To(A.READY), do_ready,
            note="a pending callback is offered at once"),
        Row(src(agent={A.PENDING_NOT_READY, A.PENDING_LOGOUT}), To("*"),
            cancel_pending_agent_state, note="cancels the pending NotReady / logout"),
        reject_rest("the agent is busy; it becomes Ready when its work ends"),
    ],
    m.NotReady: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(src(agent={A.PENDING_LOGOUT}), "InvalidTransition",
               "the agent is logging out when its work ends"),
        Row(src(agent={A.READY, A.NOT_READY}), To(A.NOT_READY), do_not_ready,
            note="from NotReady: changes the reason; walkaway raises P_POMAGT16"),
        Row(src(agent={A.BUSY, A.WORK_NOT_READY, A.PENDING_NOT_READY}), To(A.PENDING_NOT_READY),
            do_not_ready, note="NotReady when the current work ends"),
        reject_rest("NotReady is not possible now"),
    ],
    # ---- preview / callback / dialing -----------------------------------
    m.PreviewDial: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(src(call={C.PREVIEW, C.CALLBACK}), "BadRequest",
               "session_id is not the session offered to this agent", guard=session_mismatch),
        Row(src(call={C.PREVIEW, C.CALLBACK}), To(call=C.DIALING), do_preview_dial),
        reject_rest("PreviewDial needs a preview or callback on the desktop"),
    ],
    m.PreviewCancel: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(src(call={C.PREVIEW, C.CALLBACK}), "BadRequest",
               "session_id is not the session offered to this agent", guard=session_mismatch),
        Row(src(call={C.PREVIEW, C.CALLBACK}), To(A.WORK_NOT_READY, C.WRAPUP), do_wrapup_now),
        reject_rest("PreviewCancel needs a preview or callback on the desktop"),
    ],
    m.Redial: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(src(call={C.WRAPUP}), "BadRequest", "session_id is not the contact in wrap-up",
               guard=session_mismatch),
        Row(src(call={C.WRAPUP}), To(A.BUSY, C.DIALING), do_redial),
        reject_rest("Redial is allowed only in Wrapup"),
    ],
    m.DialResult: [
        NOT_LOGGED_IN,
        Reject(src(call={C.DIALING}), "BadRequest", "session_id is not the session being dialled",
               guard=session_mismatch),
        Row(src(call={C.DIALING}), To(call=C.TALKING), do_dial_answered, guard=dial_answered),
        Row(src(call={C.DIALING}), To(A.WORK_NOT_READY, C.WRAPUP), do_wrapup_now,
            note="no_answer, busy or failed"),
        reject_rest("no dial in progress for this agent"),
    ],
    # ---- talking -------------------------------------------------------
    m.HoldCall: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(src(call={C.TALKING, C.CONFERENCE_OWNER}), To(call=C.HOLD), do_hold),
        reject_rest("HoldCall needs a call in Talking, or the conference owner"),
    ],
    m.UnholdCall: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(src(call={C.HOLD}), To(call="*"), do_unhold, note="back to Talking or ConferenceOwner"),
        reject_rest("the call is not on hold"),
    ],
    # ---- consult -------------------------------------------------------
    m.Consult: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(ANY, "BadRequest", "give exactly one of target_agent_id and target_number, "
               "not the agent itself", guard=bad_consult_target),
        Reject(src(call=ALL_C - TALK), "InvalidTransition",
               "Consult needs a customer call in Talking or Hold"),
        # A full target answers first: a third consult is LimitReached whoever sends it.
        Reject(ANY, "LimitReached", "the target agent already has two pending consults",
               guard=target_pending_full),
        Reject(ANY, "InvalidTransition", "a consult is already outstanding",
               guard=consult_outstanding),
        Row(ANY, To(A.BUSY, C.CONSULT), do_consult_external, guard=consult_to_external,
            note="external party; the customer hears hold music"),
        Reject(ANY, "BadRequest", "target agent is not logged in in this zone",
               guard=target_not_logged_in),
        Row(ANY, To(A.BUSY, C.CONSULT), do_consult_agent, guard=target_ready_idle,
            note="both agents Consult; customer on hold"),
        Row(ANY, STAY, do_consult_pending, guard=target_working,
            note="target busy: ConsultPending, delivered when its work ends"),
        reject_rest("the target agent is not available for a consult"),
    ],
    m.CancelConsult: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(src(call={C.CONSULT}), To(call=C.TALKING), end_consult,
            note="either party; the other agent is free"),
        Row(src(call=TALK), STAY, do_cancel_pending_consult, guard=has_outgoing_pending_consult,
            note="withdraws a pending consult"),
        reject_rest("there is no consult to cancel"),
    ],
    m.RejectConsult: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(ANY, STAY, do_reject_consult, guard=has_incoming_pending_consult,
            note="drops a pending consult"),
        Row(src(call={C.CONSULT}), To("*", "*"), end_consult, guard=is_consulted,
            note="the consulted agent leaves an active consult"),
        reject_rest("there is no consult to reject"),
    ],
    m.Transfer: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(src(call={C.CONSULT}), To(A.WORK_NOT_READY, C.WRAPUP), do_transfer_external,
            guard=in_external_consult,
            note='to an external party; wrap-up "Transferred to external number"'),
        Row(src(call={C.CONSULT}), To("*", C.IDLE), do_transfer,
            guard=in_agent_consult_as_initiator, note="initiator free; receiver Talking"),
        Row(src(call={C.CONFERENCE_OWNER}), To(A.WORK_NOT_READY, C.WRAPUP), do_transfer_external,
            guard=with_external_party, note="conference with an external party"),
        Row(src(call={C.HOLD}), To(A.WORK_NOT_READY, C.WRAPUP), do_transfer_external,
            guard=lambda tx, a, c: is_conference_owner(tx, a, c) and with_external_party(
                tx, a, c),
            note="the owner, customer on hold, hands it to the external party"),
        Row(src(call={C.CONFERENCE_OWNER}), To("*", C.IDLE), do_transfer_from_conference,
            note="owner leaves; passive agent owns the call"),
        reject_rest("Transfer needs an active consult started by this agent"),
    ],
    m.Conference: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(src(call={C.CONSULT}), To(call=C.CONFERENCE_OWNER), do_conference,
            guard=is_consult_initiator,
            note="initiator owner, other agent passive"),
        reject_rest("Conference needs an active consult started by this agent"),
    ],
    m.EndConference: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(src(call={C.CONFERENCE_PASSIVE}), To("*", C.IDLE), do_end_conference,
            note="passive leaves; owner Talking"),
        Row(src(call=ALL_C), To(call=C.TALKING), do_end_conference, guard=is_conference_owner,
            note="passive free; owner Talking"),
        reject_rest("the agent is not in a conference"),
    ],
    m.ChangeConferenceOwner: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(src(call={C.CONFERENCE_OWNER, C.HOLD}), "InvalidTransition",
               "the conference is with an external party", guard=with_external_party),
        Row(src(call=ALL_C), To(call=C.CONFERENCE_PASSIVE), do_change_owner,
            guard=is_conference_owner, note="owner and passive swap"),
        reject_rest("only the conference owner can hand over ownership"),
    ],
    m.HangUp: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(src(call=TALK), "BadRequest", "session_id is not the agent's current call",
               guard=session_mismatch),
        Row(src(call=TALK), To(A.WORK_NOT_READY, C.WRAPUP), do_hang_up,
            note="ReleaseCall to the media side; the nailed line stays"),
        reject_rest("HangUp needs a customer call in Talking or Hold"),
    ],
    # ---- wrap-up -------------------------------------------------------
    m.WrapupContact: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(src(call={C.WRAPUP}), "BadRequest", "session_id is not the contact in wrap-up",
               guard=session_mismatch),
        Reject(src(call={C.WRAPUP}), "BadRequest",
               "completion_code is not one of the job's completion codes",
               guard=bad_completion_code),
        Row(src(call={C.WRAPUP}), To("*", C.IDLE, "*"), do_wrapup_contact,
            note="default code when none given; then the end-of-work rules"),
        reject_rest("the agent is not in Wrapup"),
    ],
    m.ExtendWrapup: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(src(call={C.WRAPUP}), STAY, do_extend_wrapup, guard=extensions_left),
        Reject(src(call={C.WRAPUP}), "LimitReached", "no wrap-up extension left"),
        reject_rest("the agent is not in Wrapup"),
    ],
    m.CreateCallback: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(src(call=ON_CALL | {C.WRAPUP}), "BadRequest",
               "session_id is not the agent's current contact", guard=session_mismatch),
        Row(src(call=ON_CALL | {C.WRAPUP}), STAY, do_create_callback,
            note="CallbackCreated to the dialer"),
        reject_rest("CreateCallback needs a current contact"),
    ],
    # ---- status and HA -------------------------------------------------
    m.SaveAgentForHA: [
        NOT_LOGGED_IN,
        Row(ANY, STAY, do_save_for_ha),
    ],
    m.DesktopHeartbeat: [
        NOT_LOGGED_IN,
        Row(ANY, STAY, noop, note="liveness only; the zone notes when it heard the desktop"),
    ],
    DesktopLost: [
        NOT_LOGGED_IN,
        Row(src(call=TALK | {C.CONSULT, C.CONFERENCE_OWNER}), To("*", C.WRAPUP), do_desktop_lost,
            guard=lambda tx, a, c: bool(a.ha_data) and not is_passive_party(tx, a, c),
            note="shown in Wrapup (SaveAgentForHA was used); the call goes on"),
        Row(ANY, STAY, noop, note="nothing to show: the alarm alone"),
    ],
    WrapupTimeout: [
        NOT_LOGGED_IN,
        Row(src(call={C.WRAPUP}), To("*", C.IDLE, "*"), do_wrapup_contact,
            guard=lambda tx, a, c: a.session_id == c.session_id,
            note="the job's default completion code"),
        reject_rest("the agent is no longer in that wrap-up"),
    ],
    m.GetAgentStatus: [
        NOT_LOGGED_IN,
        Row(ANY, STAY, noop, note="read only"),
    ],
    m.ListCallbackAgents: [
        NOT_LOGGED_IN,
        Row(ANY, STAY, noop, note="read only; the service lists the zone's agents"),
    ],
    # ---- supervisor ------------------------------------------------------
    # ---- supervisor (v1.1, beyond POM) ----------------------------------
    m.ForceNotReady: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(src(agent={A.PENDING_LOGOUT}), "InvalidTransition",
               "the agent is logging out when its work ends"),
        Row(src(agent={A.READY, A.NOT_READY}), To(A.NOT_READY), do_force_not_ready,
            note="now, with the supervisor's reason"),
        Row(src(agent={A.BUSY, A.WORK_NOT_READY, A.PENDING_NOT_READY}), To(A.PENDING_NOT_READY),
            do_force_not_ready, note="NotReady when the current work ends"),
        reject_rest("ForceNotReady is not possible now"),
    ],
    m.ForceLogout: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Row(src(agent=IDLE), To(A.LOGOUT, C.IDLE, J.JOB_DETACHED), do_logout, note="now"),
        Row(src(agent={A.PENDING_LOGOUT}), STAY, noop),
        Row(src(agent=WORKING), To(A.PENDING_LOGOUT), do_pending_logout,
            note="logged out when the current work ends"),
        reject_rest("ForceLogout is not possible now"),
    ],
    m.ReleaseFromOutbound: [
        NOT_LOGGED_IN,
        Reject(ANY, "Ignored", "the zone is failing over or messaging cannot confirm",
               guard=zone_degraded, alarm="P_POMAGT50"),
        # "During HA of the agent manager": an agent in doubt is still being resynced
        Reject(src(agent={A.UNKNOWN}), "Ignored",
               "the agent's state is being resynchronised after a failover",
               alarm="P_POMAGT50"),
        Reject(ANY, "Ignored", "the agent has a pending callback or consult",
               guard=has_pending_activity, alarm="P_POMAGT50"),
        Row(src(job={J.JOB_INBOUND, J.PENDING_MANUAL_INBOUND}), STAY, do_release_again,
            note="a new thrash interval replaces the old"),
        Row(src(job={J.PENDING_OUTBOUND}), To(job=J.JOB_INBOUND), do_back_to_inbound),
        Row(src(call={C.IDLE}), To(job=J.JOB_INBOUND), do_release_now),
        Row(ANY, To(job=J.PENDING_MANUAL_INBOUND), do_release_pending,
            note="JobInbound when the work ends"),
    ],
    m.MoveAgentToJob: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(ANY, "BadRequest", "job_id is not a running job-task of this zone",
               guard=unknown_job),
        Reject(ANY, "InvalidTransition", "the agent is on an inbound call; move it when the "
               "call ends (InboundCallEnded)", guard=on_inbound_call),
        Row(src(job={J.PENDING_MANUAL_JOB_MOVEMENT}), To(job="*"), do_cancel_move,
            guard=back_to_own_job,
            note="back to its own job: the pending move is cancelled"),
        Row(ANY, STAY, noop, guard=same_job),
        Reject(ANY, "LimitReached", "the job has no licence or place left", guard=job_full),
        Row(src(call={C.IDLE}), To(job=J.JOB_END), do_move_now, guard=on_a_job,
            note="JobEnd on the old job, then (CompleteMove) nailing for the new one"),
        Row(src(call={C.IDLE}), To(job=J.PENDING_JOB_ATTACH), do_move_now,
            note="on no job: attached to the new one at once"),
        Row(ANY, To(job=J.PENDING_MANUAL_JOB_MOVEMENT), do_move_pending,
            note="moves when the work ends"),
    ],
    # ---- blender ---------------------------------------------------------
    m.BlendToInbound: [
        NOT_LOGGED_IN,
        Row(src(job={J.JOB_INBOUND, J.PENDING_INBOUND, J.PENDING_MANUAL_INBOUND}), STAY, noop),
        Row(src(job={J.PENDING_OUTBOUND}), To(job=J.JOB_INBOUND), do_back_to_inbound),
        Row(src(call={C.IDLE}), To(job=J.JOB_INBOUND), do_blend_inbound_now),
        Row(ANY, To(job=J.PENDING_INBOUND), do_blend_inbound_pending,
            note="JobInbound when the work ends"),
    ],
    m.BlendToOutbound: [
        NOT_LOGGED_IN,
        Reject(src(job={J.JOB_INBOUND, J.PENDING_MANUAL_INBOUND}), "Ignored",
               "a supervisor released this agent from outbound; its thrash interval "
               "has not run out", guard=in_thrash_interval),
        Reject(src(job={J.PENDING_MANUAL_INBOUND}), "InvalidTransition",
               "a supervisor released this agent from outbound"),
        Row(src(job={J.JOB_INBOUND}), To(job=J.PENDING_OUTBOUND), do_blend_outbound_pending,
            guard=on_inbound_call, note="on an inbound call: JobDetached when it ends"),
        Row(src(job={J.JOB_INBOUND}, call={C.IDLE}), To(job=J.JOB_DETACHED), do_blend_outbound_now,
            note="allocation attaches it to a job"),
        Row(src(job={J.JOB_INBOUND}), To(job=J.PENDING_OUTBOUND), do_blend_outbound_pending,
            note="JobDetached when the work ends"),
        Row(src(job={J.PENDING_INBOUND}), To(job="*"), do_cancel_pending_inbound),
        Row(ANY, STAY, noop, note="already outbound"),
    ],
    # ---- ACD (inbound side) ----------------------------------------------
    m.InboundCallStarted: [
        NOT_LOGGED_IN,
        Reject(ANY, "InvalidTransition", "the agent is already on another inbound call",
               guard=other_inbound_call),
        Row(src(job={J.JOB_INBOUND, J.PENDING_OUTBOUND}), STAY, do_inbound_started,
            note="BlendToOutbound waits (PendingOutbound) until the call ends"),
        reject_rest("the agent is not blended to inbound"),
    ],
    m.InboundCallEnded: [
        NOT_LOGGED_IN,
        Reject(ANY, "BadRequest", "call_id is not the agent's inbound call",
               guard=not_this_inbound_call),
        Row(src(job={J.PENDING_OUTBOUND}, call={C.IDLE}), To(job=J.JOB_DETACHED),
            do_inbound_ended, note="the pending BlendToOutbound completes"),
        Row(ANY, STAY, do_inbound_ended),
    ],
    # ---- dialer and telephony --------------------------------------------
    OfferContact: [
        NOT_LOGGED_IN,
        Row(ANY, To(A.BUSY, "*"), do_offer, guard=available_for_contact,
            note="connect: Talking; preview: Preview; callback: Callback"),
        reject_rest("the agent is not available for this job"),
    ],
    m.CallbackDue: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(ANY, "BadRequest", "job_id is not a job-task of this zone",
               guard=callback_for_job_unknown),
        Reject(ANY, "InvalidTransition", "the agent is not on the callback's job and cannot "
               "be attached to it (skills or licences)", guard=cannot_take_callback),
        Row(src(agent={A.READY}, job=NOT_INBOUND), To(A.BUSY, C.CALLBACK), do_callback_now),
        Row(ANY, STAY, do_callback_pending,
            note="busy or not ready: PreviewCallbackPending with the due time"),
    ],
    CallEnded: [
        NOT_LOGGED_IN,
        Reject(ANY, "BadRequest", "the agent does not own this call", guard=not_owner),
        Row(src(call={C.TALKING, C.HOLD, C.CONSULT, C.CONFERENCE_OWNER, C.DIALING}),
            To(A.WORK_NOT_READY, C.WRAPUP), do_customer_drop,
            note="a consulted or passive colleague is free"),
        Row(ANY, STAY, noop, note="already wrapping up"),
    ],
    m.NailingEstablished: [
        NOT_LOGGED_IN,
        Row(src(job={J.PENDING_JOB_ATTACH}), To(job=J.JOB_ATTACHED), do_nailed,
            note="JobAttached to the desktop"),
        Row(ANY, STAY, do_nailed_only),
    ],
    m.NailingDropped: [
        NOT_LOGGED_IN,
        Row(src(call=BUSY_CALL_STATES), STAY, do_nail_drop_mark, guard=is_passive_party,
            note="PAM cannot see a passive party's nailing; the owner releases it"),
        Row(src(call=BUSY_CALL_STATES), To(A.WORK_NOT_READY, C.WRAPUP), do_nail_drop_busy),
        Row(src(call={C.IDLE}, job={J.JOB_ATTACHED}), To(job=J.PENDING_JOB_ATTACH),
            do_nail_drop_idle, note="nailed again"),
        Row(ANY, STAY, do_nail_drop_mark, note="renailed when the work ends"),
    ],
    AttachToJob: [
        NOT_LOGGED_IN,
        IN_DOUBT,
        Reject(ANY, "BadRequest", "the job is not running", guard=job_not_running),
        Reject(ANY, "BadRequest", "the agent lacks the job's skills", guard=lacks_job_skills),
        Reject(ANY, "LimitReached", "the job has no licence or place left", guard=job_full),
        Row(src(agent=IDLE, call={C.IDLE}, job={J.JOB_DETACHED, J.JOB_END}),
            To(job=J.PENDING_JOB_ATTACH), do_attach, note="NailAgent to the media side"),
        reject_rest("only an idle agent without a job can be attached"),
    ],
    DetachFromJob: [
        NOT_LOGGED_IN,
        Reject(ANY, "InvalidTransition", "the agent is not on this job", guard=not_for_this_job),
        Row(ANY, To(job=J.JOB_END), do_detach, note="licence freed; a busy agent finishes"),
    ],
    CompleteMove: [
        NOT_LOGGED_IN,
        Row(src(job={J.JOB_END}), To(job="*"), do_complete_move,
            note="PendingJobAttach on the new job, or JobEnd when it has no place left"),
        reject_rest("no move to complete"),
    ],
    MarkUnknown: [
        NOT_LOGGED_IN,
        Row(ANY, To(A.UNKNOWN), do_mark_unknown,
            note="takeover: its last change was not confirmed announced; out of the pool"),
    ],
    ResolveUnknown: [
        NOT_LOGGED_IN,
        Row(src(agent={A.UNKNOWN}), To("*"), do_resolve_unknown,
            note="GetAgentStatus / SaveAgentForHA, or the resync timeout: idle -> NotReady"),
        Row(ANY, STAY, noop),
    ],
}

#: Wire commands that touch an agent only through an internal input.
VIA_INTERNAL: dict[type[m.Command], tuple[type[Internal], ...]] = {
    m.CustomerConnected: (OfferContact,),
    m.PreviewContactReady: (OfferContact,),
    m.CustomerDisconnected: (CallEnded,),
    m.JobStarted: (AttachToJob,),
    m.JobResumed: (AttachToJob,),
    m.JobPaused: (DetachFromJob,),
    m.JobEnded: (DetachFromJob,),
}
#: Wire commands that touch no agent.
NO_AGENT: frozenset[type[m.Command]] = frozenset({m.GetZoneStatus})


# ---------------------------------------------------------------------------
# apply
# ---------------------------------------------------------------------------


def blank_agent(agent_id: str, zone: str, now: datetime) -> Agent:
    """The record of an agent never seen: logged out, version 0."""
    return Agent(agent_id=agent_id, zone=zone, agent_state=A.LOGOUT, call_state=C.IDLE,
                 job_state=J.JOB_DETACHED, version=0, since=now)


def select(tx: Tx, a: Agent, cmd: Any) -> Entry:
    for entry in TABLE[type(cmd)]:
        if entry.src.matches(a) and (entry.guard is None or entry.guard(tx, a, cmd)):
            return entry
    raise AssertionError(f"no entry for {type(cmd).__name__} in {state_of(a)}")  # pragma: no cover


def state_of(a: Agent) -> tuple[AgentState, CallState, JobState]:
    return (a.agent_state, a.call_state, a.job_state)


_STATE_FIELDS = ("agent_state", "call_state", "job_state", "reason_code")


def apply(world: World, cmd: Input, ctx: Context) -> Outcome:
    """Apply one agent command (or internal input) to the world.

    Raises :class:`Missing` when a record it needs was not loaded. A refusal
    changes nothing (an ``Ignored`` refusal still announces its alarm).
    """
    if type(cmd) not in TABLE:
        raise TypeError(f"{type(cmd).__name__} is not an agent input")
    agent_id: str = cmd.agent_id  # type: ignore[union-attr]
    cause = type(cmd).__name__
    tx = Tx(world, ctx, cause)
    current = tx.agent(agent_id) or blank_agent(agent_id, ctx.zone, ctx.now)
    entry = select(tx, current, cmd)
    if isinstance(entry, Reject):
        return _refuse(tx, current, entry.code, entry.message, entry.alarm)
    if current.agent_id not in world.agents or world.agents[current.agent_id] is None:
        tx.agents[agent_id] = current
    assert entry.effect is not None
    entry.effect(tx, current, cmd)
    return _commit(tx, agent_id, ctx)


def _refuse(tx: Tx, a: Agent, code: RejectCode, message: str, alarm: str | None) -> Outcome:
    events: list[m.Event] = []
    snap = a if a.version > 0 else None
    if alarm is not None:
        events.append(m.Alarm(code=alarm, severity="minor", agent_id=a.agent_id, zone=tx.ctx.zone,
                              message=f"{tx.cause} for agent {a.agent_id} ignored: {message}"))
    reply = m.Rejected(code=code, message=message, agent=snap, alarm=alarm)
    return Outcome(reply=reply, agents={}, jobs={}, events=events, calls={}, cause=tx.cause)


def _commit(tx: Tx, agent_id: str, ctx: Context) -> Outcome:
    changed: dict[str, Agent] = {}
    state_events: list[m.Event] = []
    for aid, new in tx.agents.items():
        old = tx.world.agents.get(aid)
        base = old or blank_agent(aid, ctx.zone, ctx.now)
        if _same(base, new):
            continue
        moved = any(getattr(base, f) != getattr(new, f) for f in _STATE_FIELDS)
        new = msgspec.structs.replace(new, version=base.version + 1,
                                      since=ctx.now if moved else base.since)
        changed[aid] = new
        state_events.append(m.AgentStateChanged(snapshot=new, previous=old, cause=tx.cause,
                                                step=tx.cause, zone=ctx.zone))
    jobs = {jid: j for jid, j in tx.jobs.items() if tx.world.jobs.get(jid) != j}
    me = changed.get(agent_id) or tx.must(agent_id)
    reply = m.Accepted(agent=me)
    return Outcome(reply=reply, agents=changed, jobs=jobs, events=state_events + tx.events,
                   calls=tx.calls, cause=tx.cause)


def _same(a: Agent, b: Agent) -> bool:
    return msgspec.structs.replace(a, version=0, since=b.since) == msgspec.structs.replace(
        b, version=0)


# ---------------------------------------------------------------------------
# Job-task commands (no agent of their own)
# ---------------------------------------------------------------------------


def job_from(cmd: m.JobStarted) -> JobTask:
    return JobTask(
        job_id=cmd.job_id, action_name=cmd.action_name, zone=cmd.zone,
        campaign_type=cmd.campaign_type, required_skills=tuple(cmd.required_skills),
        min_agents=cmd.min_agents, max_agents=cmd.max_agents, priority=cmd.priority,
        licenses=cmd.licenses, completion_codes=tuple(cmd.completion_codes),
        default_completion_code=cmd.default_completion_code,
        wrapup_seconds=cmd.wrapup_seconds, wrapup_extensions=cmd.wrapup_extensions,
        strategy=cmd.strategy)


def apply_job(current: JobTask | None, cmd: m.Command, ctx: Context) -> tuple[
        JobTask | None, m.Accepted | m.Rejected, list[Internal]]:
    """JobStarted / JobPaused / JobResumed / JobEnded on a job-task record.

    Returns the new record (``None`` when unchanged or refused), the reply, and the
    per-agent inputs that must follow (JobEnd for each agent of a paused or ended
    job). Allocation after a start or resume is the dispatcher's.
    """
    if isinstance(cmd, m.JobStarted):
        if cmd.zone != ctx.zone:
            return None, m.Rejected(code="BadRequest", message="JobStarted zone differs from "
                                    "the zone the command was sent to"), []
        if cmd.min_agents > cmd.max_agents:
            return None, m.Rejected(code="BadRequest", message="min_agents exceeds max_agents"), []
        if cmd.default_completion_code is not None and cmd.completion_codes and (
                cmd.default_completion_code not in cmd.completion_codes):
            return None, m.Rejected(code="BadRequest", message="default_completion_code is not "
                                    "one of completion_codes"), []
        if current is not None and current.status != "ended" and (
                current.action_name != cmd.action_name):
            # Not yet (issue 17 item 7): a zone keys its job-tasks by job_id alone, so a
            # second action of a running job would overwrite the first one's licences,
            # codes and staffing. Refused instead of silently merged.
            return None, m.Rejected(code="BadRequest", message=(
                f"job {cmd.job_id!r} already runs action {current.action_name!r} in this "
                f"zone; PAM serves one action per job_id and zone: give the second action "
                f"its own job_id, or end the first")), []
        new = job_from(cmd)
        if current is not None and current.status != "ended":
            new = msgspec.structs.replace(new, assigned=current.assigned)
        return new, m.Accepted(job=new), []
    assert isinstance(cmd, m.JobPaused | m.JobResumed | m.JobEnded)
    if current is None or current.status == "ended":
        return None, m.Rejected(code="BadRequest",
                                message=f"job_id {cmd.job_id!r} is not a job-task of this zone"), []
    status: Literal["running", "paused", "ended"] = {
        m.JobPaused: "paused", m.JobResumed: "running", m.JobEnded: "ended"}[type(cmd)]  # type: ignore[assignment]
    if status == current.status:
        return None, m.Accepted(job=current), []
    new = msgspec.structs.replace(current, status=status)
    follow: list[Internal] = []
    if status != "running":
        reason = "job paused" if status == "paused" else "job ended"
        follow = [DetachFromJob(agent_id=aid, job_id=cmd.job_id, reason=reason)
                  for aid in current.assigned]
    return new, m.Accepted(job=new), follow


def is_available(a: Agent, job: JobTask | None = None) -> bool:
    """The dispatcher's rule: may this agent be offered outbound work now?"""
    nailing_ok = a.nailed
    return (a.agent_state is A.READY and a.call_state is C.IDLE
            and a.job_state is J.JOB_ATTACHED and a.job_id is not None and nailing_ok
            and (job is None or (job.job_id == a.job_id and job.status == "running")))

#: The machine's names, and the engine's vocabulary re-exported for the zone, the tests
#: and the docs tools.
__all__ = [
    "ALL_A",
    "ALL_C",
    "ALL_J",
    "END_OF_WORK_AGENT",
    "END_OF_WORK_JOB",
    "IN_DOUBT",
    "NOT_LOGGED_IN",
    "NO_AGENT",
    "TABLE",
    "VIA_INTERNAL",
    "A",
    "AttachToJob",
    "C",
    "CallEnded",
    "CompleteMove",
    "Context",
    "DesktopLost",
    "DetachFromJob",
    "Entry",
    "Input",
    "Internal",
    "J",
    "MarkUnknown",
    "OfferContact",
    "Outcome",
    "ResolveUnknown",
    "Row",
    "Src",
    "To",
    "Tx",
    "World",
    "WrapupTimeout",
    "apply",
    "apply_job",
    "blank_agent",
    "is_available",
    "job_from",
    "reject_rest",
    "select",
    "state_of",
]
