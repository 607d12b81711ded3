"""Step-down from residential care to family life: readiness, candidate families, value for money."""
