"""Nothing outside a caller's remit, whatever they ask: every operation of the OpenAPI document, as every role,
with the ids and areas of another authority; then every page.  And every request that touched a child's
records, or was refused, left an entry in the audit trail.

The store holds two generated authorities.  Each role's user has the first, L001, in their remit (with its own
agency and every independent agency, some of whose households look after L002's children); L002 and its
in-house agency LA-L002 are outside.  Other users of L002 start jobs and read L002's children first, so the
trail and the job store hold things the L001 users must never see.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api.app import create_app
from api.auth import access_of, api_routes
from api.settings import Settings
from matching.access import Actor, Permission, Remit, Role
from matching.accounts.tokens import issue_token
from matching.accounts.users import create_user
from matching.audit import StoredEntry, recent_entries
from matching.domain import Scope
from matching.stepdown.assess import assess_cohort, default_assessment_date
from matching.store import queries, schema
from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder
from matching.synth.generator import generate

ON = "2026-04-01"
SETUP = Actor.system("tests")
MINE, OTHER = "L001", "L002"
IDS = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass
class World:
    """The two-authority store, its users' tokens and passwords, and what is outside the L001 remit."""

    engine: Engine
    tokens: dict[str, str]
    passwords: dict[str, str]
    users: dict[Role, str]
    remits: dict[str, Remit]
    children: dict[str, str]  # child id: authority
    households: dict[str, str]  # household id: agency
    outside_children: frozenset[str]  # of L001's remit
    all_children: frozenset[str]
    waiting_other: str
    residential_other: str
    waiting_mine: str
    household_mine: str
    household_other: str
    referral_other: str
    referral_mine: str
    household_shared: str  # an independent agency's household (in remit) looking after an L002 child
    region_other: str
    region_mine: str
    foreign_jobs: dict[str, str] = field(default_factory=dict)


def _user(conn: Any, name: str, role: Role, remit: Remit, password: str | None = None) -> str:
    create_user(conn, username=name, role=role, remit=remit, actor=SETUP, password=password)
    return issue_token(conn, name, name="enumeration", actor=SETUP).token


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("two_las")
    generate(base / "data", las=2, seed=7)
    engine = make_engine(f"sqlite:///{base / 'store.db'}")
    upgrade(engine)
    import_folder(engine, base / "data")
    with engine.begin() as conn:
        agencies = set(conn.execute(select(schema.agency.c.agency_code)).scalars())
        ifas = frozenset(a for a in agencies if a.startswith("IFA"))
        regions = dict(conn.execute(select(schema.local_authority.c.la_code, schema.local_authority.c.region)).all())
        children = dict(conn.execute(select(schema.child.c.child_id, schema.child.c.la_code)).all())
        households = dict(conn.execute(select(schema.household.c.household_id, schema.household.c.agency_code)).all())
        homes = dict(
            conn.execute(
                select(schema.child.c.child_id, schema.child.c.household_id).where(
                    schema.child.c.household_id.is_not(None)
                )
            ).all()
        )
        mine = Remit(frozenset({MINE}), frozenset({f"LA-{MINE}"}) | ifas)
        remits = {
            Role.PLACEMENT_OFFICER: mine,
            Role.PLACEMENT_MANAGER: mine,
            Role.FOSTERING_OFFICER: Remit(frozenset(), mine.agency_codes),
            Role.COMMISSIONING_LEAD: mine,
            Role.AUDITOR: Remit(frozenset({MINE})),
            Role.ADMINISTRATOR: mine,  # a remit, and still no child's records
        }
        users = {role: f"{role.value}.one" for role in Role}
        passwords = {users[role]: f"password-of-{role.value}-1" for role in Role}
        tokens = {users[r]: _user(conn, users[r], r, remits[r], passwords[users[r]]) for r in Role}
        theirs = Remit(frozenset({OTHER}), frozenset({f"LA-{OTHER}"}) | ifas)
        tokens["lead.two"] = _user(conn, "lead.two", Role.COMMISSIONING_LEAD, theirs)
        tokens["placement.two"] = _user(conn, "placement.two", Role.PLACEMENT_OFFICER, theirs)
        first_other = queries.open_referrals(conn, scope=Scope(la_codes=frozenset({OTHER})))[0]
        first_mine = queries.open_referrals(conn, scope=Scope(la_codes=frozenset({MINE})))[0]
        waiting_other, waiting_mine = first_other.child_id, first_mine.child_id
        other_scope = Scope(la_codes=frozenset({OTHER}), agency_codes=theirs.agency_codes)
        cohort = assess_cohort(conn, scope=other_scope, on=default_assessment_date(conn, scope=other_scope))
        residential_other = cohort.children[0].child_id
    shared = sorted(h for c, h in homes.items() if children[c] == OTHER and households.get(h, "").startswith("IFA"))
    assert shared, "the generated world should place some L002 children with independent agencies"
    yield World(
        engine=engine,
        tokens=tokens,
        passwords=passwords,
        users=users,
        remits={users[r]: remits[r] for r in Role},
        children=children,
        households=households,
        outside_children=frozenset(c for c, la in children.items() if la != MINE),
        all_children=frozenset(children),
        waiting_other=waiting_other,
        residential_other=residential_other,
        waiting_mine=waiting_mine,
        household_mine=min(h for h, a in households.items() if a == f"LA-{MINE}"),
        household_other=min(h for h, a in households.items() if a == f"LA-{OTHER}"),
        household_shared=shared[0],
        referral_other=first_other.referral_id,
        referral_mine=first_mine.referral_id,
        region_other=regions[OTHER],
        region_mine=regions[MINE],
    )
    engine.dispose()


@dataclass(frozen=True)
class Call:
    """One request of the walk: what it targets outside the remit (then it must be refused)."""

    method: str
    template: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    refuse: bool = False

    @property
    def sent(self) -> str:
        return f"{self.path} {self.params} {self.body}"


def _referral(la_code: str, child_id: str | None = None) -> dict[str, Any]:
    child: dict[str, Any] = {"la_code": la_code, "birth_month": "2014-05", "sex": "F", "ethnicity": "WBRI"}
    if child_id is not None:
        child["child_id"] = child_id
    return {"child": child, "needs": {"self_harm": 2}, "placement_type": "long_term", "placement_date": ON}


def _scenario(area: dict[str, Any]) -> dict[str, Any]:
    return {"name": "enumeration", "area": area, "simulations": 2, "horizon_months": 2, "seed": 1}


def _calls(w: World, method: str, template: str, own_jobs: dict[str, str]) -> list[Call]:
    """Every request the walk makes of one operation: ids and areas outside the remit (refused), and inside
    it (answered, and scanned for anything outside)."""
    fills: list[tuple[dict[str, str], bool]] = [({}, False)]
    if "{child_id}" in template:
        fills = [
            ({"child_id": w.waiting_other}, True),
            ({"child_id": w.residential_other}, True),
            ({"child_id": w.waiting_mine}, False),
        ]
    elif "{household_id}" in template:
        fills = [
            ({"household_id": w.household_other}, True),
            ({"household_id": w.household_shared}, False),
            ({"household_id": w.household_mine}, False),
        ]
    elif "{referral_id}" in template:
        fills = [({"referral_id": w.referral_other}, True), ({"referral_id": w.referral_mine}, False)]
    elif "{job_id}" in template:
        kind = "allocation" if template.startswith("/v1/allocations") else "sufficiency"
        other_kind = "sufficiency" if kind == "allocation" else "allocation"
        fills = [
            ({"job_id": w.foreign_jobs[kind]}, True),  # another user's, another authority's
            ({"job_id": own_jobs[other_kind]}, True),  # the caller's own, of the other kind
            ({"job_id": own_jobs[kind]}, False),  # the caller's own (only its starter may read it)
        ]
    calls = []
    for values, refuse in fills:
        path = template.format(**values) if values else template
        params: dict[str, Any] = {"on": ON}
        if template in ("/v1/children", "/v1/households"):
            calls.append(Call(method, template, path, {"la_code": OTHER, "limit": 500}))
            params = {"limit": 500}
        if template == "/v1/audit":
            calls.append(Call(method, template, path, {"child_id": w.waiting_other}, refuse=True))
            calls.append(Call(method, template, path, {"username": "placement.two"}))
            params = {"limit": 500}
        if method == "POST" and template == "/v1/matches":
            calls.append(Call(method, template, path, {}, _referral(OTHER), refuse=True))
            calls.append(Call(method, template, path, {}, _referral(MINE, w.waiting_other), refuse=True))
            calls.append(Call(method, template, path, {}, _referral(MINE)))
            continue
        if method == "POST" and template == "/v1/referrals":
            made = {"referral_date": ON, "urgency": "today", "placement_type": "emergency"}
            calls.append(Call(method, template, path, {}, {"child_id": w.waiting_other, **made}, refuse=True))
            calls.append(Call(method, template, path, {}, {"child_id": w.waiting_mine, **made}))
            continue
        if method == "POST" and template == "/v1/allocations":
            calls.append(Call(method, template, path, {}, {"la_code": OTHER}, refuse=True))
            calls.append(Call(method, template, path, {}, {"region": w.region_other}, refuse=True))
            calls.append(Call(method, template, path, {}, {"time_limit_seconds": 2, "placement_date": ON}))
            continue
        if method == "POST" and template == "/v1/sufficiency/runs":
            calls.append(Call(method, template, path, {}, _scenario({"las": [OTHER]}), refuse=True))
            calls.append(Call(method, template, path, {}, _scenario({"las": [MINE, OTHER]}), refuse=True))
            calls.append(Call(method, template, path, {}, _scenario({"region": w.region_other}), refuse=True))
            continue
        calls.append(Call(method, template, path, params, {} if method == "POST" else None, refuse))
    return calls


def _ids(text: str) -> set[str]:
    return set(IDS.findall(text))


def _text(r: Any) -> str:
    """An answer's text; a zip archive's members, unpacked."""
    if r.headers.get("content-type", "").startswith("application/zip"):
        with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
            return "\n".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    return str(r.text)


#: The permissions that let a role see children's records at all (an administrator's remit shows them none).
CHILD_PERMISSIONS = frozenset(
    {
        Permission.READ_CHILDREN,
        Permission.MATCH,
        Permission.STEP_DOWN,
        Permission.ALLOCATE,
        Permission.READ_AUDIT,
        Permission.EXPORT_SUBJECT_ACCESS,
    }
)


def _outside(w: World, who: str) -> frozenset[str]:
    """The children and households ``who`` may never see named: outside their remit, or every child when their
    role sees no child's records."""
    remit = w.remits[who]
    role = next(r for r, u in w.users.items() if u == who)
    sees_children = bool(role.permissions & CHILD_PERMISSIONS)
    children = {c for c, la in w.children.items() if not sees_children or la not in remit.la_codes}
    households = {h for h, a in w.households.items() if a not in remit.agency_codes}
    return frozenset(children | households)


def _check(w: World, who: str, call: Call, status: int, text: str) -> list[str]:
    """What is wrong with one answer (empty when nothing)."""
    problems = []
    if call.refuse and 200 <= status < 300:
        problems.append(f"{who} {call.method} {call.sent}: {status}, not refused")
    found = _ids(text)
    echoed = _ids(call.sent)
    leaked = (found & _outside(w, who)) - (echoed if status >= 400 else set())
    if leaked:
        problems.append(f"{who} {call.method} {call.sent}: {status} names {sorted(leaked)[:5]} outside the remit")
    return problems


def _entries(client: TestClient, engine: Engine, since: int) -> list[StoredEntry]:
    client.app.state.audit.flush()  # type: ignore[attr-defined]
    with engine.connect() as conn:
        out: list[StoredEntry] = []
        before = None
        while True:
            page = recent_entries(conn, limit=500, before_seq=before)
            out += [e for e in page if e.seq > since]
            if not page or page[-1].seq <= since:
                return list(reversed(out))
            before = page[-1].seq


def _wait_done(client: TestClient, location: str, token: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(location, headers={"Authorization": f"Bearer {token}"}).json()
        if job["status"] in ("done", "failed"):
            return
        time.sleep(0.2)
    raise AssertionError(f"job {location} did not finish")


@dataclass
class Expected:
    who: str
    action: str
    status: int
    child_ids: frozenset[str]


def test_no_role_reads_or_changes_anything_outside_its_remit(world: World) -> None:
    w = world
    app = create_app(Settings(allocation_direct_max_children=0), engine=w.engine)
    with TestClient(app) as client:

        def bearer(user: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {w.tokens[user]}"}

        # L002's users leave traces: jobs of each kind, and audit entries naming L002's children.
        r = client.post(
            "/v1/allocations", json={"time_limit_seconds": 2, "placement_date": ON}, headers=bearer("lead.two")
        )
        assert r.status_code == 202, r.text
        w.foreign_jobs["allocation"] = r.json()["id"]
        r = client.post("/v1/sufficiency/runs", json=_scenario({"las": [OTHER]}), headers=bearer("lead.two"))
        assert r.status_code == 202, r.text
        w.foreign_jobs["sufficiency"] = r.json()["id"]
        assert client.get(f"/v1/children/{w.waiting_other}", headers=bearer("placement.two")).status_code == 200
        # The L001 lead's own jobs, of each kind.
        lead = w.users[Role.COMMISSIONING_LEAD]
        own: dict[str, str] = {}
        r = client.post("/v1/allocations", json={"time_limit_seconds": 2, "placement_date": ON}, headers=bearer(lead))
        own["allocation"] = r.json()["id"]
        r = client.post("/v1/sufficiency/runs", json=_scenario({"las": [MINE]}), headers=bearer(lead))
        own["sufficiency"] = r.json()["id"]
        for kind, job in (*((k, v) for k, v in own.items()), *w.foreign_jobs.items()):
            owner = lead if job in own.values() else "lead.two"
            _wait_done(
                client, f"/v1/{'allocations' if kind == 'allocation' else 'sufficiency/runs'}/{job}", w.tokens[owner]
            )
        # Others' jobs are another user's: for everyone else, the L001 lead's jobs are as foreign as L002's.
        since = _entries(client, w.engine, 0)[-1].seq

        schema_doc = client.get("/openapi.json").json()
        operations = [
            (method.upper(), path, op)
            for path, ops in schema_doc["paths"].items()
            for method, op in ops.items()
            if "x-permission" in op
        ]
        assert len(operations) >= 15
        problems: list[str] = []
        expected: list[Expected] = []
        served = 0
        counts = {"api probes": 0, "api probes outside the remit": 0, "page probes": 0, "page probes outside": 0}
        covered = set()
        for role in Role:
            user = w.users[role]
            for method, template, op in operations:
                for call in _calls(w, method, template, own):
                    covered.add((method, template))
                    r = client.request(call.method, call.path, params=call.params, json=call.body, headers=bearer(user))
                    assert r.status_code < 500, f"{user} {call.method} {call.sent}: {r.status_code} {r.text[:300]}"
                    text = _text(r)
                    problems += _check(w, user, call, r.status_code, text)
                    served += 200 <= r.status_code < 300
                    counts["api probes"] += 1
                    counts["api probes outside the remit"] += call.refuse
                    if r.status_code == 202 and call.method == "POST":  # a batch started in remit: let it run
                        kind = "allocations" if template.startswith("/v1/allocations") else "sufficiency/runs"
                        _wait_done(client, f"/v1/{kind}/{r.json()['id']}", w.tokens[user])
                    touched = _ids(text) & w.all_children if 200 <= r.status_code < 300 else set()
                    touched |= {call.path.split("/")[3]} if "{child_id}" in template else set()
                    if template == "/v1/audit":
                        touched = {call.params["child_id"]} if "child_id" in call.params else set()
                        touched |= _ids(text) & w.all_children if r.status_code == 200 else set()
                    audited = op["x-permission"] != "read_households" or touched or r.status_code in (401, 403)
                    if audited:
                        expected.append(Expected(user, f"{method} {template}", r.status_code, frozenset(touched)))
        assert covered == {(m, t) for m, t, _ in operations}
        assert served > 20, "the walk should also be answered inside the remit"

        # Pages: every page as each role, signed in by the form.
        page_routes = [
            (route.path, access_of(route))
            for route in api_routes(app.routes)
            if route.path.startswith("/pages/") and "GET" in route.methods and access_of(route) is not None
        ]
        assert {p for p, _ in page_routes} >= {"/pages/home", "/pages/waiting", "/pages/step-down"}
        for role in Role:
            user = w.users[role]
            browser = TestClient(app)
            form = browser.get("/pages/sign-in")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
            signed = browser.post(
                "/pages/sign-in",
                data={"csrf_token": token, "username": user, "password": w.passwords[user]},
                follow_redirects=False,
            )
            assert signed.status_code == 303
            for template, access in page_routes:
                fills: list[tuple[str, bool]] = [("", False)]
                if "{child_id}" in template:
                    fills = [
                        (c, c in w.outside_children) for c in (w.waiting_other, w.residential_other, w.waiting_mine)
                    ]
                elif "{household_id}" in template:
                    fills = [
                        (w.household_other, True),
                        (w.household_shared, False),
                        (w.household_mine, False),
                    ]
                for filled, refuse in fills:
                    child = filled if "{child_id}" in template else ""
                    path = template.replace("{child_id}", filled).replace("{household_id}", filled)
                    call = Call("GET", template, path, {"on": ON}, refuse=refuse)
                    r = browser.get(path, params=call.params, follow_redirects=False)
                    assert r.status_code < 500, f"{user} {path}: {r.status_code}"
                    problems += _check(w, user, call, r.status_code, r.text)
                    counts["page probes"] += 1
                    counts["page probes outside"] += call.refuse
                    touched = (_ids(r.text) & w.all_children if r.status_code == 200 else set()) | (
                        {child} if child else set()
                    )
                    if (access is not None and access.audit) or touched or r.status_code in (401, 403):
                        expected.append(Expected(user, f"GET {template}", r.status_code, frozenset(touched)))

        assert problems == []

        # Every request that touched a child's records, or was refused, is in the trail: who, what, the outcome
        # and (at least) the children the answer named.
        entries = _entries(client, w.engine, since)
        pool: dict[tuple[str, str, str], list[StoredEntry]] = {}
        for e in entries:
            pool.setdefault((e.username, e.action, e.outcome), []).append(e)
        missing = []
        for x in expected:
            candidates = pool.get((x.who, x.action, str(x.status)), [])
            match = next((e for e in candidates if x.child_ids <= set(e.child_ids)), None)
            if match is None:
                missing.append(f"{x.who} {x.action} {x.status} children {sorted(x.child_ids)[:3]}")
            else:
                candidates.remove(match)
        assert missing == [], missing
        print(  # the figures for the closing note (pytest -s)
            f"\n{len(operations)} operations x {len(Role)} roles: {counts['api probes']} API probes "
            f"({counts['api probes outside the remit']} outside the remit), {counts['page probes']} page probes "
            f"({counts['page probes outside']} outside); {served} API answers served inside the remit; "
            f"{len(problems)} reads or writes outside the remit; {len(expected)} audited requests expected, "
            f"{len(missing)} missing"
        )
        roles = {e.username: e.role for e in entries}
        assert all(roles[w.users[r]] == r.value for r in Role if w.users[r] in roles)
