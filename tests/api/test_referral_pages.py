"""The referral pages: a referral made through the form (every problem listed at once, then made), read in plain
words with who changed it and when, changed and closed; the child's page links to it; role and CSRF enforced."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from matching.access import Role
from tests.api.test_admin_pages import csrf_of
from tests.api.test_referral_records import _free_child_and_day

PageClientAs = Callable[..., TestClient]


def _summary(text: str) -> list[str]:
    block = re.search(r'<div class="govuk-error-summary__body">(.*?)</div>', text, re.S)
    assert block is not None, "no error summary"
    return [html.unescape(m) for m in re.findall(r"<li><a href=\"#[^\"]+\">([^<]+)</a></li>", block.group(1))]


def test_a_referral_is_made_through_the_form_changed_and_closed(
    page_client_as: PageClientAs, loaded_sqlite: Engine
) -> None:
    child, day = _free_child_and_day(loaded_sqlite)
    y, m, d = day.split("-")
    pages = page_client_as(Role.PLACEMENT_OFFICER)
    page = pages.get(f"/pages/children/{child}")
    assert f'href="/pages/children/{child}/referrals/new"' in page.text
    form = pages.get(f"/pages/children/{child}/referrals/new")
    assert form.status_code == 200
    token = csrf_of(form.text)
    bad = {
        "csrf_token": token,
        "referral_date-day": "31",
        "referral_date-month": "2",
        "referral_date-year": y,
        "expected_duration_days": "soon",
        "wishes_text": "secret words",
    }
    r = pages.post(f"/pages/children/{child}/referrals/new", data=bad)
    assert r.status_code == 422
    assert _summary(r.text) == [
        "The date of the referral must be a real date",
        "Choose when the placement is needed",
        "Choose type of placement",
        "Expected stay in days is not valid",
    ]
    assert "secret words" in r.text  # kept in the form, to correct
    good = {
        "csrf_token": token,
        "referral_date-day": d,
        "referral_date-month": m,
        "referral_date-year": y,
        "urgency": "today",
        "placement_type": "emergency",
        "expected_duration_days": "4",
        "suitable_for": "foster",
        "risks_to_child": ["going_missing", "self_harm"],
        "flags": ["wish_near_school"],
        "wishes_text": "To stay at her school.",
    }
    r = pages.post(f"/pages/children/{child}/referrals/new", data=good, follow_redirects=False)
    assert r.status_code == 303, r.text
    where = r.headers["location"]
    shown = pages.get(where)
    assert shown.status_code == 200
    assert "Going missing, Self-harm" in shown.text
    assert "Open: looking for a placement" in shown.text
    assert "Made the referral" in shown.text
    assert f'href="/pages/children/{child}/matches"' in shown.text
    assert "Record the decision on this referral" in shown.text
    assert 'id="the-referral"' in pages.get(f"/pages/children/{child}").text
    rid = where.rsplit("/", 1)[1]
    edit = pages.get(f"{where}/edit")
    assert 'value="4"' in edit.text
    r = pages.post(f"{where}/edit", data={**good, "urgency": "within_5_days"}, follow_redirects=False)
    assert r.status_code == 303
    assert "Changed: when the placement is needed" in pages.get(where).text
    r = pages.post(f"{where}/status", data={"csrf_token": token, "status": "closed"})
    assert r.status_code == 422
    assert _summary(r.text) == ["Choose why the referral is being closed"]
    r = pages.post(
        f"{where}/status",
        data={"csrf_token": token, "status": "closed", "reason_code-closed": "another_placement_found"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    closed = pages.get(where).text
    assert "Status changed from open to closed: another placement was found" in closed
    assert "Edit the referral" not in closed
    assert pages.get(f"{where}/edit").status_code == 409
    assert f'href="/pages/children/{child}/referrals/new"' in pages.get(f"/pages/children/{child}").text
    assert rid.startswith("R-")


def test_the_forms_need_the_role_and_the_token(page_client_as: PageClientAs, loaded_sqlite: Engine) -> None:
    child, _ = _free_child_and_day(loaded_sqlite)
    manager = page_client_as(Role.PLACEMENT_MANAGER)
    assert manager.get(f"/pages/children/{child}/referrals/new").status_code == 403
    assert "referrals/new" not in manager.get(f"/pages/children/{child}").text
    officer = page_client_as(Role.PLACEMENT_OFFICER)
    r = officer.post(f"/pages/children/{child}/referrals/new", data={"csrf_token": "forged", "urgency": "today"})
    assert r.status_code == 403
    assert officer.get("/pages/referrals/NO-SUCH").status_code == 404
