"""The learned placement-stability estimate: P(a placement lasts 12 months without an unplanned ending)."""
