"""Untrusted bytes to typed messages: PROTOCOL.md's input rules, in one place.

Every consumer of PAM's queues (the service, the blender, the report ingester, the
dashboard's event stream, ``pam-supervisor``, the load tester) decodes through
:func:`decode` or :func:`decode_command`. They raise nothing but :class:`BadInput`,
whatever the bytes: the limits are checked before the decoder runs, so no body can
reach a recursion limit or leave a field unchecked.

:class:`Poison` is a message's own fault: retrying cannot help, so it is answered (or
dead-lettered with the reason) and acked at once; it never holds up its queue (the
service's other failures, worth a retry, are pam_service.fate's).
"""

from __future__ import annotations

import functools
import re
from typing import Any, TypeVar

import msgspec

from pam_protocol import messages as m

#: Deepest nesting of arrays and objects a command may have (PROTOCOL.md v1.1).
MAX_DEPTH = 32
#: The largest command body (pam-service's default ``Settings.max_body``).
MAX_COMMAND_BODY = 64 * 1024
#: The same for what PAM sends (replies, events): a command's ``customer`` data, up to
#: 32 deep, is carried inside snapshots and zone replies a few levels further down.
MAX_OUT_DEPTH = 64
#: The largest reply or event a consumer reads: a GetZoneStatus reply of a large zone
#: is several MB; anything past this is not PAM's.
MAX_OUT_BODY = 64 * 1024 * 1024

T = TypeVar("T")


class Poison(Exception):
    """The message itself is at fault: answer or dead-letter it, ack it, never retry."""

    def __init__(self, code: m.RejectCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BadInput(Poison):
    """The body breaks an input rule: not UTF-8 JSON, too large or deep, invalid fields."""


# A JSON string, escapes included (unrolled, so it matches in linear time).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_PAIR = re.compile(rb"\[\]|\{\}")


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the body nests arrays and objects deeper than ``limit``, or has brackets
    that do not pair up (invalid JSON either way). Linear in the body, in C: strings are
    blanked and everything but brackets dropped; then each round removes the innermost
    pairs (one level), and a run of openers longer than the levels left to spare proves
    the body too deep (a deep body is found in the first round)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the common case: too few brackets to nest that deep
    s = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for spare in range(limit, 0, -1):
        if not s:
            return False
        if _openers(spare + 1).search(s):
            return True
        shorter = _PAIR.sub(b"", s)  # one pass: exactly the innermost level goes
        if len(shorter) == len(s):
            return True  # unbalanced: nothing pairs up any more
        s = shorter
    return bool(s)


@functools.cache
def _openers(n: int) -> re.Pattern[bytes]:
    return re.compile(rb"[\[{]{%d}" % n)


def check_body(body: bytes, max_body: int, max_depth: int = MAX_DEPTH) -> None:
    """The size, encoding and nesting rules, checked before any decoder sees the body."""
    if len(body) > max_body:
        raise BadInput("BadRequest", f"body of {len(body)} bytes exceeds the limit of "
                       f"{max_body} bytes")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadInput("BadRequest", f"body is not valid UTF-8 (byte {e.start})") from None
    if too_deep(body, max_depth):
        raise BadInput("BadRequest", f"body nests deeper than {max_depth} levels")


def decode(decoder: msgspec.json.Decoder[T], body: bytes, max_body: int = MAX_OUT_BODY,
           what: str = "message", max_depth: int = MAX_OUT_DEPTH) -> T:
    """Decode one body with a typed decoder, or raise :class:`BadInput`. The defaults
    are those of PAM's own output; pass a command's limits for what clients send."""
    check_body(body, max_body, max_depth)
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as e:
        raise BadInput("BadRequest", f"invalid {what}: {e}") from None
    except Exception as e:  # any decoder failure is the body's fault, never a crash
        raise BadInput("BadRequest", f"{what} is not valid JSON: {e}") from None


class _Tagged(msgspec.Struct):
    type: Any = None


_tag_decoder = msgspec.json.Decoder(_Tagged)


def decode_command(body: bytes, max_body: int = MAX_COMMAND_BODY) -> m.Command:
    """Decode one command, telling an unknown ``type`` (UnknownCommand) from an invalid
    command (BadRequest)."""
    check_body(body, max_body)
    try:
        return m.command_decoder.decode(body)
    except msgspec.ValidationError as e:
        invalid = BadInput("BadRequest", f"invalid command: {e}")
    except Exception as e:
        raise BadInput("BadRequest", f"command is not valid JSON: {e}") from None
    try:
        tag = _tag_decoder.decode(body).type
    except Exception:
        raise invalid from None
    if isinstance(tag, str) and tag not in m.COMMAND_NAMES:
        raise BadInput("UnknownCommand", f"unknown command type {tag[:64]!r}") from None
    raise invalid
