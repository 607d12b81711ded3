"""Referrals the service owns: made and changed through the API and the pages, checked by the data contract's
own rule, and moved from open to closed with who did it and when (``referral_history``, :mod:`.records`); sent to
fostering services (:mod:`.sending`), answered by their carers (:mod:`.answers`), and the offers compared
(:mod:`.offers`)."""

from matching.referrals.current import ReferralNotFoundError
from matching.referrals.records import (
    CREATE_FIELDS,
    EDITABLE_FIELDS,
    TRANSITIONS,
    HistoryEntry,
    ReferralError,
    ReferralRecord,
    ReferralStateError,
    change_status,
    check_fields,
    create_referral,
    get_referral,
    history,
    update_referral,
)

__all__ = [
    "CREATE_FIELDS",
    "EDITABLE_FIELDS",
    "TRANSITIONS",
    "HistoryEntry",
    "ReferralError",
    "ReferralNotFoundError",
    "ReferralRecord",
    "ReferralStateError",
    "change_status",
    "check_fields",
    "create_referral",
    "get_referral",
    "history",
    "update_referral",
]
