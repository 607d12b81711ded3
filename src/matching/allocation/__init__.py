"""Batch allocation: many waiting children to many vacancies at once, with the first-come-first-served
and greedy baselines beside it.  Allocations are proposals: nothing here changes a placement."""
