"""JSON responses encoded with orjson: several times faster than the standard library on match results."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """``application/json`` rendered by orjson (dates as ISO strings, non-string keys allowed)."""

    def render(self, content: Any) -> bytes:
        """The body bytes."""
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
