"""The sending pages end to end through the forms: the placement officer sends a referral to IFA001, the agency
officer of IFA001 answers for two households (one decline naming a need, confirmed as a suggestion), and the offers
page shows the offer with a link to record the decision with it chosen."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.test_admin_pages import csrf_of
from tests.api.test_referral_sending import IFA, _referral


def test_send_answer_confirm_and_compare_through_the_pages(
    page_client: TestClient, client: TestClient, make_client: Callable[..., TestClient]
) -> None:
    referral_id = _referral(client)
    page = page_client.get(f"/pages/referrals/{referral_id}/send")
    assert page.status_code == 200
    assert f'id="send-{IFA}"' in page.text
    none = page_client.post(f"/pages/referrals/{referral_id}/send", data={"csrf_token": csrf_of(page.text)})
    assert none.status_code == 422
    assert "Choose at least one fostering service" in none.text
    sent = page_client.post(
        f"/pages/referrals/{referral_id}/send",
        data={"csrf_token": csrf_of(page.text), "agency_code": IFA},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    again = page_client.get(sent.headers["location"])
    assert "Referral sent to 1 fostering service" in again.text
    assert f'id="send-{IFA}"' not in again.text  # sent already: no box to tick

    agency = make_client()
    form = agency.get("/pages/sign-in")
    agency.post(
        "/pages/sign-in",
        data={"csrf_token": csrf_of(form.text), "username": "demo.agency", "password": "demo-agency-officer"},
    )
    home = agency.get("/pages/home")
    assert "/pages/agency/referrals" in home.text
    inbox = agency.get("/pages/agency/referrals")
    assert referral_id in inbox.text
    seen = agency.get(f"/pages/agency/referrals/{referral_id}")
    assert seen.status_code == 200
    households = re.findall(r'id="household-([^"]+)"', seen.text)
    assert len(households) >= 2
    child_id = client.get(f"/v1/referrals/{referral_id}/offers").json()["child_id"]
    assert child_id not in seen.text
    about = re.findall(
        r'<option value="([a-z_]+)"', seen.text.split(f'id="about-{households[1]}"')[1].split("</select>")[0]
    )
    assert about
    token = csrf_of(seen.text)
    url = f"/pages/agency/referrals/{referral_id}/answers"
    bad = agency.post(url, data={"csrf_token": token, "household_id": households[0], "answer": "declined"})
    assert bad.status_code == 422
    assert "Choose why the carers declined" in bad.text
    ok = agency.post(
        url, data={"csrf_token": token, "household_id": households[0], "answer": "agreed"}, follow_redirects=False
    )
    assert ok.status_code == 303
    declined = agency.post(
        url,
        data={
            "csrf_token": token,
            "household_id": households[1],
            "answer": "declined",
            "reason_code": "needs_beyond_our_experience",
            "about": about[0],
        },
        follow_redirects=False,
    )
    assert declined.status_code == 303
    suggestions = agency.get("/pages/agency/suggestions")
    ids = re.findall(r'id="suggestion-(\d+)"', suggestions.text)
    assert len(ids) >= 1
    confirmed = agency.post(
        f"/pages/agency/suggestions/{ids[-1]}", data={"csrf_token": csrf_of(suggestions.text), "confirm": "yes"},
        follow_redirects=False,
    )  # fmt: skip
    assert confirmed.status_code == 303
    assert f'id="suggestion-{ids[-1]}"' not in agency.get("/pages/agency/suggestions").text

    offers = page_client.get(f"/pages/referrals/{referral_id}/offers")
    assert offers.status_code == 200
    assert f'data-household="{households[0]}"' in offers.text
    link = f"/pages/referrals/{referral_id}/decision?household_id={households[0]}"
    assert link in offers.text
    decision = page_client.get(link)
    assert decision.status_code == 200
    assert re.search(rf'value="ranked:{re.escape(households[0])}" checked', decision.text)
    assert agency.get(f"/pages/referrals/{referral_id}/offers").status_code == 403

    # The decision on the offer: the page says what it was measured against and lists the offers as compared.
    compared = client.get(f"/v1/referrals/{referral_id}/offers").json()
    offer = next(o for o in compared["offers"] if o["household_id"] == households[0])
    warnings = [w["code"] for w in (offer["explanation"] or {}).get("warnings", [])]
    made = client.post(
        f"/v1/referrals/{referral_id}/decisions",
        json={"outcome": "household_chosen", "named_officer": "A. Manager, Team manager",
              "household_id": households[0], "accepted_warnings": warnings,
              "reason_codes": ["support_agreed"] if warnings else []},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["best_ranked_household_id"] == households[0]  # the only offer, whatever its rank
    assert made.json()["departs_from_ranking"] is False
    shown = page_client.get(f"/pages/decisions/{made.json()['id']}")
    assert "Best-ranked offer" in shown.text
    table = shown.text.split('id="offers-shown"')[1].split("</table>")[0]
    assert re.findall(r'data-household="([^"]+)"', table) == [households[0]]
