"""Layering and generated documents stay as designed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from matching.contract.docs import render_markdown
from matching.paths import PROJECT_ROOT


def test_library_never_imports_fastapi() -> None:
    code = (
        "import sys, matching, matching.cli, matching.store.queries, matching.store.importer, "
        "matching.synth.generator; print('fastapi' in sys.modules or 'starlette' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_data_format_document_is_up_to_date() -> None:
    doc = Path(PROJECT_ROOT / "docs" / "data-format.md").read_text(encoding="utf-8")
    assert doc == render_markdown(), "run `matching contract-docs` to regenerate docs/data-format.md"


def _imports(package: str) -> set[str]:
    """Every ``matching.*`` module imported anywhere in a package's source (top level or inside functions)."""
    import ast

    found: set[str] = set()
    for path in (PROJECT_ROOT / "src" / "matching" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("matching"):
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("matching")}
    return found


def test_ranking_never_imports_stability() -> None:
    """Stability builds on ranking; ranking knows a stability model only as a protocol (issue 13)."""
    assert not {m for m in _imports("ranking") if m.startswith("matching.stability")}


def test_eligibility_imports_no_service_above_it() -> None:
    """The rules are the bottom layer every service calls: they import none of them."""
    above = (
        "matching.ranking",
        "matching.allocation",
        "matching.stability",
        "matching.stepdown",
        "matching.sufficiency",
    )
    assert not {m for m in _imports("eligibility") if m.startswith(above)}


def _code_only(path: Path) -> str:
    """A source file without its strings and comments."""
    import io
    import tokenize

    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return " ".join(t.string for t in tokens if t.type not in (tokenize.STRING, tokenize.COMMENT))


def test_no_rule_arithmetic_is_written_outside_eligibility() -> None:
    """The rules' own arithmetic (ages in whole years from months, the DfE distance) has one home; the synthetic
    generator, which draws a world rather than judging one, is not a rule."""
    import re

    src = PROJECT_ROOT / "src" / "matching"
    pattern = re.compile(r"/ 1\.6093\b|1609\.3\b|// 12\b")
    offenders = [
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if not {"eligibility", "synth"} & set(p.parts) and pattern.search(_code_only(p))
    ]
    assert offenders == []


def test_the_api_never_builds_a_scope() -> None:
    """Every scope in ``api/`` is a signed-in caller's (``principal.scope()``, maybe narrowed): no route builds
    one, and none reaches for the administrative ``Scope.everything()``."""
    import ast

    offenders = []
    for path in (PROJECT_ROOT / "api").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            named = f.id if isinstance(f, ast.Name) else None
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else None
            if named == "Scope" or owner == "Scope" or (named == "replace" and "scope" in ast.unparse(node).lower()):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert offenders == []


def test_every_route_goes_through_the_access_dependency() -> None:
    """Every route of the app but health, the sign-in and sign-out forms, single sign-on's start and callback, the
    root redirect and the API's own documents asks for a signed-in caller with a permission (:class:`api.auth.Access`)."""
    import tempfile

    from fastapi.routing import APIRoute

    from api.app import create_app
    from api.auth import access_of, api_routes
    from api.settings import Settings
    from matching.store.engine import make_engine, upgrade

    open_routes = {("GET", "/health"), ("GET", "/"), ("GET", "/pages/sign-in"), ("POST", "/pages/sign-in")}
    open_routes |= {("POST", "/pages/sign-out")}  # checks the session's own CSRF token itself
    # single sign-on at the pages: the start and the provider's answer (state, code and ID token checked there)
    open_routes |= {("GET", "/pages/sign-in/oidc"), ("GET", "/pages/sign-in/oidc/callback")}
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/store.db")
        upgrade(engine)
        app = create_app(Settings(), engine=engine)
        routes = list(api_routes(app.routes))
        app.state.audit.close()
        engine.dispose()
    assert len(routes) > 15
    unguarded = {(method, route.path) for route in routes for method in route.methods or () if access_of(route) is None}
    assert unguarded == open_routes
    assert all(isinstance(r, APIRoute) for r in routes)
