"""Eligibility: the single home of every hard rule and of the arithmetic the rules need.

* :mod:`~matching.eligibility.arithmetic`: age on a date, DfE distance;
* :mod:`~matching.eligibility.together`: who may live with whom (both ways, residents included);
* :mod:`~matching.eligibility.request`: what is judged (every child of a group with their own referral);
* :mod:`~matching.eligibility.rules`: the rules, one function each: the specification;
* :mod:`~matching.eligibility.columns`: the same rules over many households at once, tested equal.

Ranking, allocation, step-down and sufficiency all call these; nothing else re-implements a rule.
This module imports nothing so that the domain model can use the arithmetic without a cycle.
"""
