"""Referrals as the service handles them: sent to fostering services, answered by their carers, and the offers
compared (issue 20)."""
