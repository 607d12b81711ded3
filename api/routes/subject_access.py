"""Subject access (UK GDPR Article 15): everything held about one child in the caller's remit, as a zip archive."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from api.deps import Exporter
from api.schemas import NO_CHILD, NOT_FOUND
from matching.audit.subject_access import DEFAULT_PURPOSE, export_child

router = APIRouter(tags=["subject access"])
ZIP = {
    "description": "The archive: README.txt, child.json (every record and the audit entries that touched the "
    "child), csv/ (one file per table)",
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
}


@router.post("/v1/children/{child_id}/export", response_class=Response, responses={200: ZIP, **NOT_FOUND})
def export_subject_access(
    request: Request, child_id: Annotated[str, PathParam(min_length=1, max_length=64)], caller: Exporter
) -> Response:
    """Everything the service holds about one child of the caller's authorities (404 otherwise), for a subject
    access request; the purpose is ``X-Purpose`` (default: a subject access request).  The export is recorded
    in the audit trail with the child."""
    engine = request.app.state.engine
    with tempfile.TemporaryDirectory(prefix="pm-sar-") as tmp:
        out = Path(tmp) / "export.zip"
        with engine.begin() as conn:
            summary = export_child(
                conn,
                child_id,
                out,
                actor=caller.principal.actor,
                purpose=caller.note.purpose or DEFAULT_PURPOSE,
                scope=caller.scope,
            )
        if summary is None:
            raise HTTPException(status_code=404, detail=NO_CHILD)
        data = out.read_bytes()
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", child_id)[:64]
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="subject-access-{name}.zip"',
            "Cache-Control": "no-store",
        },
    )
