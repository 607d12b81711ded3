"""Where the project's shipped data lives (taxonomy, schemas, bundled synthetic data)."""

from __future__ import annotations

from pathlib import Path

#: Repository root when running from a checkout (editable install).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: Shipped data: taxonomies, weights, scenarios and the generated synthetic local authority.
DATA_DIR = PROJECT_ROOT / "data"
#: Where ``make run`` writes the bundled synthetic local authority.
BUNDLED_SYNTHETIC_DIR = DATA_DIR / "synthetic" / "default"
#: The default embedded database file.
DEFAULT_SQLITE_PATH = DATA_DIR / "placement-matching.db"
