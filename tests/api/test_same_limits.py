"""The same limit on `top` everywhere (issue 18, item 12): before, the CLI took 200, the API 100, the page 50."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from matching.cli import app
from matching.ranking.service import MAX_TOP

ON = "2026-04-01"
CHILD = "L001-C00002"


def test_top_is_the_same_for_the_api_the_page_and_the_cli(client: TestClient, page_client: TestClient) -> None:
    assert client.get(f"/v1/children/{CHILD}/matches", params={"top": MAX_TOP, "on": ON}).status_code == 200
    assert client.get(f"/v1/children/{CHILD}/matches", params={"top": MAX_TOP + 1, "on": ON}).status_code == 422
    page = f"/pages/children/{CHILD}/matches"
    assert page_client.get(page, params={"top": MAX_TOP, "on": ON}).status_code == 200
    assert page_client.get(page, params={"top": MAX_TOP + 1, "on": ON}).status_code == 422
    over = CliRunner().invoke(app, ["match", "--child", CHILD, "--top", str(MAX_TOP + 1)])
    assert over.exit_code == 2
    assert str(MAX_TOP) in over.output
