"""Sufficiency planning: demand and supply over a horizon, simulated; bottlenecks; what-if levers."""
