"""Readable explanations of PAM's refusals, for people at a supervisor's desk.

Every ``Rejected`` code of PROTOCOL.md has a sentence (what happened) and a hint (what
to do). ``explain`` fills them in from the reply and the command's context.
"""

from __future__ import annotations

from typing import NamedTuple, get_args

from pam_protocol import messages as m
from pam_protocol.client import PamError


class Explanation(NamedTuple):
    #: What happened. Placeholders: {action} {agent} {zone} {user} {message} {alarm}.
    sentence: str
    #: What to do about it (same placeholders).
    hint: str


AGENTS_HINT = "look at the zone's agents with `pam-supervisor agents --zone {zone}`"

EXPLANATIONS: dict[str, Explanation] = {
    "BadRequest": Explanation(
        "PAM refused {action} as invalid: {message}",
        "check the agent id, the job id (a running job-task of zone {zone}) and the zone"),
    "UnknownCommand": Explanation(
        "PAM does not know the command behind {action}: {message}",
        "this PAM is older than pam-supervisor; upgrade pam-service or use a matching "
        "pam-supervisor"),
    "NotLoggedIn": Explanation(
        "PAM refused {action}: agent {agent} is not logged in ({message})",
        "check the agent id; " + AGENTS_HINT),
    "AlreadyLoggedIn": Explanation(
        "PAM refused {action}: agent {agent} is already logged in ({message})",
        "nothing to do: the agent is logged in"),
    "InvalidTransition": Explanation(
        "PAM refused {action}: it is not allowed in agent {agent}'s current state "
        "({message}); nothing changed",
        AGENTS_HINT + ", and retry once the agent's state allows it"),
    "LimitReached": Explanation(
        "PAM refused {action}: a limit is reached ({message}); nothing changed",
        "the job has no licence or place left: raise its licences or max_agents, or move "
        "another agent off it first"),
    "Ignored": Explanation(
        "PAM ignored {action}: {message}; {alarm}",
        "wait until the agent's pending callback or consult is over (or PAM's failover has "
        "ended), then retry"),
    "Unauthorized": Explanation(
        "PAM refused {action}: user {user} may not send it ({message})",
        "connect as a user with the supervisor or admin role in PAM's roles file "
        "(--amqp-url or PAM_AMQP_URL)"),
    "Unavailable": Explanation(
        "PAM cannot carry out {action} now: {message}",
        "PAM is failing over or resynchronising the agent; retry in a few seconds"),
    "NoAgentAvailable": Explanation(
        "PAM found no agent for {action}: {message}",
        "make an agent with the job's skills Ready"),
}

GENERIC = Explanation("PAM refused {action} ({code}): {message}", AGENTS_HINT)

assert set(EXPLANATIONS) == set(get_args(m.RejectCode)), "every Rejected code is explained"


def explain(r: m.Rejected, *, action: str, zone: str, agent: str | None = None,
            user: str | None = None) -> tuple[str, str]:
    """(sentence, hint) for a refusal."""
    e = EXPLANATIONS.get(r.code, GENERIC)
    alarm = f"alarm {r.alarm} was raised" if r.alarm else "PAM named no alarm"
    fields = dict(action=action, agent=agent or "?", zone=zone, user=user or "?",
                  message=r.message.rstrip("."), alarm=alarm, code=r.code)
    return e.sentence.format(**fields), e.hint.format(**fields)


class CommandRejected(PamError):
    """PAM answered ``Rejected``; ``str()`` is the readable explanation."""

    def __init__(self, rejected: m.Rejected, *, action: str, zone: str,
                 agent: str | None = None, user: str | None = None) -> None:
        self.rejected = rejected
        self.code = rejected.code
        self.sentence, self.hint = explain(rejected, action=action, zone=zone, agent=agent,
                                           user=user)
        super().__init__(f"{self.sentence}. What to do: {self.hint}.")
