"""The domain model: children, referrals, carer households and placements, as the field names them."""

from matching.domain.child import Child, Location, SdqScore
from matching.domain.household import CarerHousehold, HouseholdMember, TermsOfApproval, TrackRecord, TrainingRecord
from matching.domain.placement import PlacementEpisode
from matching.domain.referral import NeedsProfile, Referral, WishesAndFeelings
from matching.domain.scope import Scope

__all__ = [
    "CarerHousehold",
    "Child",
    "HouseholdMember",
    "Location",
    "NeedsProfile",
    "PlacementEpisode",
    "Referral",
    "Scope",
    "SdqScore",
    "TermsOfApproval",
    "TrackRecord",
    "TrainingRecord",
    "WishesAndFeelings",
]
