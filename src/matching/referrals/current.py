"""A child's current open referral, the one the service ranks, sends and decides on: the one check every step
of the referral's way uses (sending, answers, offers, the decision's snapshot)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from matching.domain import Scope
from matching.eligibility.request import MatchRequest
from matching.ranking import service
from matching.store import queries


class ReferralNotFoundError(LookupError):
    """No referral of that id for a child in the caller's scope."""


class ReferralClosedError(ValueError):
    """The referral is not open (or is not the child's current one): nothing to send, answer or decide."""


def open_request(conn: Connection, *, scope: Scope, referral_id: str, on: date) -> MatchRequest:
    """The match request of an open referral of a child in ``scope`` (it must be the child's current one):
    :class:`ReferralNotFoundError` outside the scope, :class:`ReferralClosedError` when not open."""
    found = queries.referral_child(conn, scope=scope, referral_id=referral_id)
    if found is None:
        raise ReferralNotFoundError(f"no referral {referral_id!r}")
    child_id, status = found
    if status != "open":
        raise ReferralClosedError(f"referral {referral_id!r} is {status}, not open")
    request = service.request_for_child(conn, scope=scope, child_id=child_id, on=on)
    if request.referral.referral_id != referral_id:
        raise ReferralClosedError(f"referral {referral_id!r} is not the child's current open referral")
    return request
