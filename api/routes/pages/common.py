"""What every page module shares: the signed-in requirement, reading a small urlencoded form, and a text
filter as sent."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import HTTPException, Request

from api.auth import Access

#: Any signed-in person (the page itself decides what they see).
SIGNED_IN = Access(None, page=True, audit=False)
#: The largest form a page accepts.
MAX_FORM_BYTES = 8192


async def read_form(request: Request, max_fields: int = 10) -> dict[str, str]:
    """A urlencoded form (at most :data:`MAX_FORM_BYTES`, ``max_fields`` fields); the first value of each field."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HTTPException(status_code=415, detail="send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status_code=413, detail="the form is too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=max_fields)
    return {k: v[0] for k, v in fields.items()}


def text_param(value: str | None) -> str:
    """A text filter as sent: trimmed, at most 64 characters, "" when missing."""
    return (value or "").strip()[:64]
