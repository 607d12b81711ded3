"""Every write on a referral's way answers in <= 200 ms at p95 on the bundled authority (issue 20).

One uvicorn process on loopback over a copy of the bundled-size synthetic authority (seed 2024, the models
trusted as `make run` trusts them), the demonstration accounts with bearer tokens.  Each round takes one child of
the authority with no active referral through the whole way, by the people who do it: the placement officer
makes the referral, changes it and sends it to the authority's own service and an agency; the agency's officer
and the in-house officer record their carers' answers (two offers and a decline); the placement manager records
the decision (the ranking and the offers recomputed and frozen as its snapshot), writes and agrees the placement
plan and records the start; the placement officer closes the referral.  Beside the writes, a read through the
same stack (GET the referral) is timed in the same run: the ratio says what each write adds to a read.
Run: ``make bench-writes``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_matching import _serve, ensure_store, pct
from sqlalchemy import select

from matching.access import Actor
from matching.accounts.demo import seed_demo_accounts
from matching.accounts.tokens import issue_token
from matching.decisions.plan import SECTION_KEYS
from matching.store import queries, schema
from matching.store.engine import make_engine

TARGET_MS = 200.0
WRITES = (
    "make a referral",
    "change a referral",
    "send to services",
    "a carer's answer",
    "record the decision",
    "write the plan",
    "agree the plan",
    "record the start",
    "close the referral",
)
READ = "read the referral (baseline)"


def children_free(url: str, la_code: str, n: int) -> tuple[list[str], date]:
    """``n`` looked-after children of the authority with no open or matched referral, and the store's as-at date
    (the referrals are dated on it, so the as-at date does not move)."""
    engine = make_engine(url)
    c, r = schema.child, schema.referral
    with engine.connect() as conn:
        active = select(r.c.child_id).where(r.c.status.in_(("open", "matched")))
        rows = conn.execute(
            select(c.c.child_id)
            .where(c.c.la_code == la_code, c.c.ceased.is_(None), c.c.child_id.not_in(active))
            .order_by(c.c.child_id)
        ).all()
        on = queries.as_at(conn)
    engine.dispose()
    return [row[0] for row in rows][:n], on


def main() -> None:
    """Take ``--rounds`` children through the referral's way and print each write's latency."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--rounds", type=int, default=40, help="children taken through the whole way")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"Write benchmark (seed 2024, {os.cpu_count()} cores, {args.rounds} referrals end to end, 1 client)")
    source = make_engine(ensure_store(args.workdir, 1)).url.database
    assert source is not None
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "writes.db"
        with sqlite3.connect(source) as src, sqlite3.connect(db) as dst:
            src.backup(dst)  # a copy with the write-ahead log in it: the writes never change the shared store
        url = f"sqlite:///{db}"
        engine = make_engine(url)
        with engine.begin() as conn:
            seed_demo_accounts(conn, environment="development", actor=Actor.system("bench"))
            tokens = {
                name: issue_token(conn, name, name="bench", actor=Actor.system("bench"), days=1).token
                for name in ("demo.placement", "demo.manager", "demo.agency", "demo.fostering")
            }
        engine.dispose()
        children, on = children_free(url, "L001", args.rounds)
        if len(children) < args.rounds:
            sys.exit(f"only {len(children)} children without an active referral")
        server, base = _serve(url, "api.app:create_app", {})
        try:
            run(base, tokens, children, on)
        finally:
            server.terminate()
            server.wait(timeout=30)


def run(base: str, tokens: dict[str, str], children: list[str], on: date) -> None:
    """The rounds, then the table."""
    client = {
        name: httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {t}"})
        for name, t in tokens.items()
    }
    officer, manager, agency, in_house = (
        client[n] for n in ("demo.placement", "demo.manager", "demo.agency", "demo.fostering")
    )
    times: dict[str, list[float]] = defaultdict(list)

    def timed(name: str, who: httpx.Client, method: str, path: str, expect: int, **kw: object) -> dict:
        t0 = time.perf_counter()
        r = who.request(method, path, **kw)  # type: ignore[arg-type]
        times[name].append((time.perf_counter() - t0) * 1000)
        if r.status_code != expect:
            sys.exit(f"{name}: {method} {path} answered {r.status_code}: {r.text[:300]}")
        return r.json()  # type: ignore[no-any-return]

    warm = children.pop()
    for i, child in enumerate([warm, *children]):
        body = {"child_id": child, "referral_date": on.isoformat(), "urgency": "within_5_days",
                "placement_type": "long_term"}  # fmt: skip
        referral = timed(WRITES[0], officer, "POST", "/v1/referrals", 201, json=body)["referral_id"]
        timed(WRITES[1], officer, "PATCH", f"/v1/referrals/{referral}", 200, json={"urgency": "today"})
        timed(READ, officer, "GET", f"/v1/referrals/{referral}", 200)
        timed(WRITES[2], officer, "POST", f"/v1/referrals/{referral}/sent", 201,
              json={"agency_codes": ["LA-L001", "IFA001"]})  # fmt: skip
        answered = 0
        for who, plan in ((agency, ("agreed", "declined")), (in_house, ("agreed",))):
            ranked = who.get(f"/v1/agency/referrals/{referral}").json()
            households = [c["household_id"] for c in ranked.get("candidates", [])]
            for household, said in zip(households, plan, strict=False):
                answer = {"household_id": household, "answer": said}
                if said == "declined":
                    answer["reason_code"] = "no_room_now"
                timed(WRITES[3], who, "POST", f"/v1/agency/referrals/{referral}/answers", 201, json=answer)
                answered += said == "agreed"
        offers = manager.get(f"/v1/referrals/{referral}/offers").json()
        best = next((o for o in offers.get("offers", []) if o.get("explanation")), None)
        if best is None:
            decision = {"outcome": "no_household", "named_officer": "Bench Manager, Team manager",
                        "reason_codes": ["no_offer"]}  # fmt: skip
        else:
            warnings = [w["code"] for w in best["explanation"]["warnings"]]
            decision = {"outcome": "household_chosen", "named_officer": "Bench Manager, Team manager",
                        "household_id": best["household_id"], "accepted_warnings": warnings,
                        "reason_codes": ["support_agreed"] if warnings else []}  # fmt: skip
        made = timed(WRITES[4], manager, "POST", f"/v1/referrals/{referral}/decisions", 201, json=decision)
        if best is not None:
            plan = {"sections": dict.fromkeys(SECTION_KEYS, "Agreed at the matching meeting.")}
            timed(WRITES[5], manager, "PUT", f"/v1/decisions/{made['id']}/plan", 201, json=plan)
            timed(WRITES[6], manager, "POST", f"/v1/decisions/{made['id']}/plan/agreed", 201)
            today = date.today().isoformat()
            timed(WRITES[7], manager, "POST", f"/v1/decisions/{made['id']}/outcomes", 201,
                  json={"kind": "started", "on": today})  # fmt: skip
        timed(WRITES[8], officer, "POST", f"/v1/referrals/{referral}/status", 200,
              json={"status": "closed", "reason_code": "placed"})  # fmt: skip
        if i == 0:
            times.clear()  # the first round warms every route and cache: not counted
    for c in client.values():
        c.close()
    read95 = pct(times[READ], 95)
    print(
        f"\n  {'write':26s} {'n':>4s} {'median ms':>9s} {'p95 ms':>7s} {'x read':>7s}  target p95 <= {TARGET_MS:.0f} ms"
    )
    worst, met = 0.0, 0
    for name in (*WRITES, READ):
        lat = times[name]
        if not lat:
            print(f"  {name:26s} not measured (no round reached it)")
            continue
        p95 = pct(lat, 95)
        ok = p95 <= TARGET_MS
        if name != READ:
            worst, met = max(worst, p95), met + ok
        print(
            f"  {name:26s} {len(lat):4d} {statistics.median(lat):9.1f} {p95:7.1f} {p95 / read95:7.2f}  "
            f"{'' if name == READ else 'met' if ok else 'NOT met'}"
        )
    print(f"\n  worst write p95 {worst:.1f} ms; writes meeting the target: {met} of {len(WRITES)}")


if __name__ == "__main__":
    main()
