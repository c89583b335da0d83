"""What becomes of a delivery: one place for the service and the report ingester.

A delivery is acked (with its reply, if it asked for one), dead-lettered with a reason
(and acked), held and tried again, requeued, or dropped (its channel closed: the
broker redelivers it). The outcome of handling it, or the exception that handling it
raised, decides which: ``decoding.Poison`` (bad input, or :class:`ApplyFailed`) is the
message's fault and never retried; :func:`is_retryable` names the failures worth a retry.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

from pamqp.commands import Basic
from redis import exceptions as redis_errors

from pam_protocol import decoding, topology
from pam_protocol import messages as m
from pam_protocol.topology import DLX
from pam_service.amqp import Outgoing
from pam_service.store import Conflict, Fenced


class Delivery(topology.Delivery, Protocol):
    """What the fate of a delivery reads beyond a dead letter's fields (an aio-pika
    IncomingMessage has it all)."""

    @property
    def reply_to(self) -> str | None: ...
    @property
    def correlation_id(self) -> str | None: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def expiration(self) -> Any: ...
    @property
    def redelivered(self) -> bool | None: ...


class ApplyFailed(decoding.Poison):
    """Applying a well-formed command raised: a PAM defect that this command sets off.
    The command is rejected and dead-lettered (for the operator and the bug report);
    the zone is reloaded from Redis, so nothing it half-changed survives."""


class Retryable(Exception):
    """Not the message's fault: hold the delivery and try again."""


def is_retryable(e: BaseException) -> bool:
    """Whether a failure while handling a delivery is worth another try."""
    if isinstance(e, decoding.Poison):
        return False
    if isinstance(e, Retryable | OSError | TimeoutError):
        return True
    return isinstance(e, redis_errors.ConnectionError | redis_errors.TimeoutError
                      | Fenced | Conflict)


class Fate(enum.StrEnum):
    ACK = "ack"  # handled (answered if it asked); acked with its batch
    DEAD_LETTER = "dead-letter"  # to pam.dead with the reason, then acked
    RETRY = "retry"  # held (not acked, not nacked) and tried again
    REQUEUE = "requeue"  # given back to the broker (counts against its delivery limit)
    DROP = "drop"  # its channel is closed: the broker redelivers it, perhaps elsewhere


#: Rejections that are ordinary outcomes, not worth an operator's look.
QUIET_REJECTIONS = frozenset({"NoAgentAvailable", "Ignored"})


def dead_reason(reply_to: str | None, reject: m.Rejected | None, expired: bool,
                failed: BaseException | None, expiration: Any = None) -> str | None:
    """Why a handled delivery goes to ``pam.dead`` (with that reason), or None: a command
    that expired or failed to apply, and a rejected one nobody would hear of otherwise."""
    if expired:
        return f"Expired: not applied within its expiration ({expiration} s)"
    if failed is not None:  # what applying it raised
        return f"ApplyFailed: {type(failed).__name__}: {failed}"
    if not reply_to and reject is not None and reject.code not in QUIET_REJECTIONS:
        return f"{reject.code}: {reject.message}"
    return None


def of_error(e: BaseException, attempt: int, retries: int | None) -> Fate:
    """The fate of a delivery whose handling raised ``e`` on try ``attempt`` (from 0);
    ``retries``: tries before giving it back to the broker (None: hold it for ever)."""
    if isinstance(e, decoding.Poison):
        return Fate.DEAD_LETTER
    if retries is not None and attempt + 1 >= retries:
        return Fate.REQUEUE
    return Fate.RETRY


def dead_letter_out(msg: Delivery, reason: str) -> Outgoing:
    """A dead letter for ``pam.dlx``, to go out in a batch's one write (pam_service.amqp)."""
    return (DLX, msg.routing_key or "", Basic.Properties(
        headers=topology.dead_letter_headers(msg, reason), message_id=msg.message_id,
        content_type=msg.content_type, delivery_mode=2), msg.body)
