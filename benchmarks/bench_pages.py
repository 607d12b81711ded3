"""Every page answers in <= 300 ms at p95 on the bundled authority.

One uvicorn process on loopback over the bundled-size synthetic authority (seed 2024), the demonstration
accounts signed in through the sign-in form as a browser would (session cookie, CSRF token).  Each page is asked
``--rounds`` times in turn by one client (a person clicking, not a load test), over different children and
households where the page is about one; the first answer of each page is a warm-up and not counted.  Beside
each page, the API route that answers the same question (same child, same date) is timed in the same run, so
the ratio says what rendering the page adds.  Run: ``make bench-pages``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import yaml
from bench_matching import ON, _serve, ensure_store, pct

from matching.access import Actor, Role
from matching.accounts.demo import DEMO_ACCOUNTS, seed_demo_accounts
from matching.accounts.tokens import issue_token
from matching.store.engine import make_engine

TARGET_MS = 300.0
SCENARIO = Path(__file__).parents[1] / "data" / "scenarios" / "baseline.yaml"
ACCOUNTS = {d.role: d for d in DEMO_ACCOUNTS}


def sign_in(base: str, role: Role) -> httpx.Client:
    """A client signed in through the form as the demonstration account of ``role``."""
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    form = client.get("/pages/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, "no CSRF token on the sign-in form"
    a = ACCOUNTS[role]
    r = client.post(
        "/pages/sign-in", data={"csrf_token": token.group(1), "username": a.username, "password": a.password}
    )
    assert r.status_code == 303, f"signing in as {role} failed: {r.status_code}"
    return client


@dataclass
class Page:
    """A page (paths to ask in turn) and, where there is one, the API route answering the same question."""

    name: str
    role: Role
    paths: list[str]
    api: list[str] | None = None


def timed(client: httpx.Client, paths: list[str], rounds: int) -> tuple[list[float], int, int]:
    """Latencies (ms) of ``rounds`` answers, cycling over ``paths`` after one warm-up each; errors; last status."""
    for p in paths:
        client.get(p)
    latencies, errors, status = [], 0, 0
    for i in range(rounds):
        t0 = time.perf_counter()
        r = client.get(paths[i % len(paths)])
        latencies.append((time.perf_counter() - t0) * 1000)
        status = r.status_code
        errors += r.status_code >= 400
    return latencies, errors, status


def finished(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> None:
    """Wait (at most 5 minutes) until the job at ``path`` has ended."""
    deadline = time.monotonic() + 300
    while client.get(path, headers=headers).json()["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            sys.exit(f"{path} did not end in 5 minutes")
        time.sleep(0.5)


def job_pages(lead: httpx.Client, token: str) -> list[Page]:
    """An allocation started from its page and a small sufficiency run started through the API, both ended:
    their result pages."""
    form = lead.get("/pages/allocations").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    fields = {
        "csrf_token": csrf.group(1), "area": "la:L001", "placement_date-day": str(ON.day),
        "placement_date-month": str(ON.month), "placement_date-year": str(ON.year), "objective": "total",
        "time_limit_seconds": "5", "min_fit": "0", "max_distance_miles": "", "keep_current_points": "", "seed": "2024",
    }  # fmt: skip
    started = lead.post("/pages/allocations", data=fields)
    assert started.status_code == 303, f"the allocation form answered {started.status_code}"
    allocation = started.headers["location"]
    bearer = {"Authorization": f"Bearer {token}"}
    finished(lead, "/v1/allocations/" + allocation.rsplit("/", 1)[1], bearer)
    scenario = yaml.safe_load(SCENARIO.read_text()) | {"horizon_months": 6, "simulations": 50}
    run = lead.post("/v1/sufficiency/runs", json=scenario, headers=bearer)
    assert run.status_code == 202, f"the sufficiency run answered {run.status_code}"
    run_id = run.json()["id"]
    finished(lead, f"/v1/sufficiency/runs/{run_id}", bearer)
    return [
        Page("allocation result", Role.COMMISSIONING_LEAD, [allocation]),
        Page("sufficiency result", Role.COMMISSIONING_LEAD, [f"/pages/sufficiency/{run_id}"]),
    ]


def pages_of(api: Callable[[str], dict], on: str) -> list[Page]:
    """The pages of every job, with ids taken from the API's own answers."""
    waiting = api(f"/v1/referrals?limit=20&on={on}")["items"]
    children = [w["child_id"] for w in waiting]
    households = [h["household_id"] for h in api("/v1/households?limit=20")["items"]]
    cohort = [c["child_id"] for c in api(f"/v1/step-down?on={on}")["children"]][:10]
    q = f"?on={on}"
    po, fo, cl = Role.PLACEMENT_OFFICER, Role.FOSTERING_OFFICER, Role.COMMISSIONING_LEAD
    pages = [
        Page("home", po, ["/pages/home"]),
        Page(
            "waiting children", po, [f"/pages/waiting{q}", f"/pages/waiting{q}&page=2"], [f"/v1/referrals{q}&limit=25"]
        ),
        Page("waiting, filtered", po, [f"/pages/waiting{q}&urgency=today&age=11-15"]),
        Page("a child", po, [f"/pages/children/{c}{q}" for c in children], [f"/v1/children/{c}" for c in children]),
        Page(
            "ranked matches",
            po,
            [f"/pages/children/{c}/matches{q}" for c in children],
            [f"/v1/children/{c}/matches{q}&top=10" for c in children],
        ),
        Page("shortlist as CSV", po, [f"/pages/children/{c}/matches.csv{q}" for c in children]),
        Page(
            "a household",
            po,
            [f"/pages/households/{h}{q}" for h in households],
            [f"/v1/carers/{h}/matches{q}" for h in households],
        ),
        Page("households", fo, ["/pages/households", "/pages/households?vacancy=yes"], ["/v1/households?limit=25"]),
        Page("step-down cohort", po, [f"/pages/step-down{q}"], [f"/v1/step-down{q}"]),
        Page(
            "a child's step-down",
            po,
            [f"/pages/children/{c}/step-down{q}" for c in cohort],
            [f"/v1/children/{c}/step-down{q}" for c in cohort],
        ),
        Page("allocation form", cl, ["/pages/allocations"]),
        Page("sufficiency form", cl, ["/pages/sufficiency"]),
        Page("model cards", po, ["/pages/models"]),
        Page("a model card", po, ["/pages/models/stability", "/pages/models/step-down"]),
        Page("audit trail", Role.AUDITOR, ["/pages/audit"]),
        Page("users", Role.ADMINISTRATOR, ["/pages/admin/users"]),
        Page("imports", Role.ADMINISTRATOR, ["/pages/admin/imports"]),
    ]
    compared = []
    for c in children:
        top = api(f"/v1/children/{c}/matches{q}&top=3")["candidates"]
        if len(top) >= 2:
            ids = "&".join(f"household={h['household_id']}" for h in top[:3])
            compared.append(f"/pages/children/{c}/matches/compare{q}&{ids}")
    pages.append(Page("compare candidates", po, compared))
    return pages


def main() -> None:
    """Time every page of every job, and the API route beside it."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--rounds", type=int, default=60, help="answers timed per page (after one warm-up per path)")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"Page benchmark (seed 2024, date {ON}, {os.cpu_count()} cores, {args.rounds} answers per page, 1 client)")
    url = ensure_store(args.workdir, 1)
    engine = make_engine(url)
    lead = ACCOUNTS[Role.COMMISSIONING_LEAD]
    with engine.begin() as conn:
        seed_demo_accounts(conn, environment="development", actor=Actor.system("bench"))
        token = issue_token(conn, lead.username, name="bench", actor=Actor.system("bench"), days=1).token
    engine.dispose()
    server, base = _serve(url, "api.app:create_app", {})
    clients: dict[Role, httpx.Client] = {}
    try:
        for role in ACCOUNTS:
            clients[role] = sign_in(base, role)

        def api(path: str) -> dict:
            r = clients[Role.PLACEMENT_OFFICER].get(path)
            r.raise_for_status()
            return dict(r.json())

        print(f"\n  {'page':26s} {'median ms':>9s} {'p95 ms':>7s} {'API p95':>8s} {'ratio':>6s}  target p95 <= 300 ms")
        worst, missing, met, measured = 0.0, [], 0, 0
        every = pages_of(api, ON.isoformat()) + job_pages(clients[Role.COMMISSIONING_LEAD], token)
        for page in every:
            client = clients[page.role]
            lat, errors, status = timed(client, page.paths, args.rounds)
            if status == 404 and errors == len(lat):
                missing.append(page.name)
                print(f"  {page.name:26s} {'not built (404)':>34s}")
                continue
            p95 = pct(lat, 95)
            api_text, ratio = "", ""
            if page.api:
                api_lat, _, _ = timed(clients[page.role], page.api, args.rounds)
                api_p95 = pct(api_lat, 95)
                api_text, ratio = f"{api_p95:8.1f}", f"{p95 / api_p95:6.2f}"
            ok = p95 <= TARGET_MS and errors == 0
            measured += 1
            met += ok
            worst = max(worst, p95)
            print(
                f"  {page.name:26s} {statistics.median(lat):9.1f} {p95:7.1f} {api_text:>8s} {ratio:>6s}  "
                f"{'met' if ok else 'NOT met'}{f' ({errors} errors)' if errors else ''}"
            )
        print(f"\n  worst p95 {worst:.1f} ms; pages meeting the target: {met} of {measured}", end="")
        print(f"; not built: {', '.join(missing)}" if missing else "")
    finally:
        for c in clients.values():
            c.close()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
