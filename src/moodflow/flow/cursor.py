"""Opaque, signed cursors that point at the next page of a Flow session.

A cursor is `base64url(JSON) + "." + base64url(HMAC-SHA256)`, truncated to
16 bytes of MAC. The JSON carries the session key, the page number and the
space id, so a server can reject a forged cursor, a cursor of another
session and a cursor issued for another space.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from moodflow.errors import MoodflowError

MAC_BYTES = 16


class CursorError(MoodflowError):
    """A cursor cannot be used; `status` is the HTTP status the service returns."""

    status = 400


class InvalidCursorError(CursorError):
    """The cursor is malformed or its signature does not match."""


class CursorSessionMismatchError(CursorError):
    """The cursor belongs to a different session than the request describes."""

    status = 409


class StaleCursorError(CursorError):
    """The cursor was issued for another music space or the session expired."""

    status = 410


@dataclass(frozen=True)
class Cursor:
    session_key: str
    page: int
    space_id: str


def encode_cursor(cursor: Cursor, secret: bytes) -> str:
    payload = json.dumps({"k": cursor.session_key, "p": cursor.page, "s": cursor.space_id}, separators=(",", ":")).encode()
    mac = hmac.new(secret, payload, hashlib.sha256).digest()[:MAC_BYTES]
    return f"{_b64(payload)}.{_b64(mac)}"


def decode_cursor(token: str, secret: bytes, space_id: str) -> Cursor:
    """Verify and decode `token`; raise a `CursorError` subclass naming the problem."""
    shown = token if len(token) <= 40 else token[:37] + "..."
    try:
        payload_part, mac_part = token.split(".")
        payload = _unb64(payload_part)
        mac = _unb64(mac_part)
    except (ValueError, binascii.Error) as error:
        raise InvalidCursorError(f"invalid cursor {shown!r}: not a cursor issued by this service") from error
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise InvalidCursorError(f"invalid cursor {shown!r}: signature does not match; start a new session without a cursor")
    try:
        data = json.loads(payload)
        cursor = Cursor(session_key=str(data["k"]), page=int(data["p"]), space_id=str(data["s"]))
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidCursorError(f"invalid cursor {shown!r}: payload is malformed") from error
    if cursor.page < 0:
        raise InvalidCursorError(f"invalid cursor {shown!r}: negative page {cursor.page}")
    if cursor.space_id != space_id:
        raise StaleCursorError(
            f"stale cursor: it was issued for music space {cursor.space_id!r}, but the service now uses "
            f"{space_id!r}; start a new session without a cursor"
        )
    return cursor


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
