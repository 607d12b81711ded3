"""Administration: user accounts (list, add, disable, enable, reset a password).

Every change goes through :mod:`matching.accounts.users`, the functions the ``matching users`` commands use, with
the signed-in administrator as the audit trail's actor (each change is audited in its own transaction, as the
commands do).  Every form posts the session's CSRF token.  A password chosen by the service is shown once, on
the answer to the form, and never again (the page is not cached).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import Access, Caller
from api.routes.pages.common import check_csrf, read_form
from api.templating import page_context, templates
from matching.access import Permission, Remit, Role
from matching.accounts import passwords
from matching.accounts.users import (
    AccountError,
    User,
    check_remit,
    check_username,
    codes,
    create_user,
    disable_user,
    enable_user,
    list_users,
    reset_password,
    unknown_codes,
)
from matching.audit.chain import utc

router = APIRouter(prefix="/pages/admin", tags=["pages"], include_in_schema=False)

USERS_PAGE = Access(Permission.MANAGE_USERS, page=True)
UsersPage = Annotated[Caller, Depends(USERS_PAGE)]
#: The roles in the order the form offers them.
ROLES = tuple(Role)


def generated_password() -> str:
    """A new random password (about 96 bits), for the administrator to pass on."""
    return secrets.token_urlsafe(12)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _when(moment: Any) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "never"


def _user_row(u: User) -> dict[str, Any]:
    return {
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role.label,
        "las": ", ".join(sorted(u.remit.la_codes)) or "none",
        "agencies": ", ".join(sorted(u.remit.agency_codes)) or "none",
        "disabled": u.disabled,
        "sign_in": " and ".join(m for m, on in (("password", u.has_password), ("single sign-on", u.external_id)) if on)
        or "none",
        "last_sign_in": _when(u.last_sign_in_at),
    }


def _users(request: Request) -> list[dict[str, Any]]:
    with request.app.state.engine.connect() as conn:
        return [_user_row(u) for u in list_users(conn)]


async def _page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
    done: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    users = await run_in_threadpool(_users, request)
    errors = errors or []
    response = templates.TemplateResponse(
        request,
        "admin_users.html",
        {
            **page_context(request),
            "users": users,
            "form": form or {"password_choice": "generate"},
            "errors": errors,
            "error_for": {e["field"]: e["text"] for e in errors},
            "roles": [(r.value, r.label, r.description) for r in ROLES],
            "done": done,
            "min_length": passwords.MIN_LENGTH,
        },
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/users", response_class=HTMLResponse, dependencies=[Depends(USERS_PAGE)])
async def users(request: Request) -> Response:
    """Every user account (username, name, role, remit, enabled, last sign-in) with its actions, and the form
    to add one."""
    return await _page(request)


def _new_user_errors(form: dict[str, str]) -> tuple[list[dict[str, str]], Remit | None]:
    """The add-user form's errors, one a field, in the library's words (its own checks), and the remit."""
    wrong: list[tuple[str, str]] = []
    try:
        check_username(form["username"])
    except AccountError as exc:
        wrong.append(("username", _sentence(str(exc)) if form["username"] else "Enter a username"))
    if form["role"] not in {r.value for r in ROLES}:
        wrong.append(("role", "Choose a role"))
    asked = Remit(codes([form["la_codes"]]), codes([form["agency_codes"]]))
    remit: Remit | None = asked
    for field, values in (("la_codes", asked.la_codes), ("agency_codes", asked.agency_codes)):
        try:
            check_remit(Remit(frozenset(values)))
        except AccountError as exc:
            wrong.append((field, _sentence(str(exc))))
            remit = None
    if form["password_choice"] not in ("generate", "set"):
        wrong.append(("password_choice", "Choose how the first password is made"))
    elif form["password_choice"] == "set":
        try:
            passwords.check_policy(form["password"], form["username"])
        except passwords.PasswordPolicyError as exc:
            wrong.append(("password", _sentence(str(exc))))
    anchors = {"role": f"role-{ROLES[0].value}", "password_choice": "password_choice-generate"}
    return [{"field": f, "href": f"#{anchors.get(f, f)}", "text": t} for f, t in wrong], remit


@router.post("/users", response_class=HTMLResponse)
async def add_user(request: Request, caller: UsersPage) -> Response:
    """Add an account (``matching users add``'s library call, audited as the administrator); a password chosen
    by the service is shown once."""
    raw = await read_form(request)
    check_csrf(request, raw)
    form = {
        k: raw.get(k, "").strip()[:200]
        for k in ("username", "display_name", "role", "la_codes", "agency_codes", "password_choice")
    }
    form["password"] = raw.get("password", "")[: passwords.MAX_LENGTH + 1]
    errors, remit = _new_user_errors(form)
    if errors or remit is None:
        form.pop("password")
        return await _page(request, form=form, errors=errors, status=422)
    password = generated_password() if form["password_choice"] == "generate" else form["password"]

    def create() -> tuple[User, list[str]] | str:
        with request.app.state.engine.begin() as conn:
            try:
                user = create_user(
                    conn,
                    username=form["username"],
                    role=form["role"],
                    remit=remit,
                    actor=caller.principal.actor,
                    display_name=form["display_name"] or None,
                    password=password,
                )
            except AccountError as exc:
                return str(exc)
            return user, unknown_codes(conn, remit)

    made = await run_in_threadpool(create)
    if isinstance(made, str):
        form.pop("password")
        return await _page(
            request, form=form, errors=[{"field": "username", "href": "#username", "text": _sentence(made)}], status=422
        )
    user, unknown = made
    done = {
        "title": f"Account {user.username} added",
        "text": f"{user.display_name} ({user.username}) is a {user.role.label.lower()}.",
        "password": password if form["password_choice"] == "generate" else None,
        "username": user.username,
        "warnings": [f"{c} is not in the store yet: the user sees nothing of it until it is." for c in unknown]
        + (
            ["No authority or agency: this user sees nothing."]
            if remit.empty
            and user.role
            in (Role.PLACEMENT_OFFICER, Role.PLACEMENT_MANAGER, Role.FOSTERING_OFFICER, Role.COMMISSIONING_LEAD)
            else []
        ),
    }
    return await _page(request, done=done)


@router.post("/users/{username}/{action}", response_class=HTMLResponse)
async def change_user(request: Request, username: str, action: str, caller: UsersPage) -> Response:
    """Disable or enable an account, or give it a new password chosen by the service (shown once); each through
    the library's call, audited as the administrator."""
    raw = await read_form(request)
    check_csrf(request, raw)
    if action not in ("disable", "enable", "reset"):
        raise HTTPException(status_code=404, detail="no such action")
    if action == "disable" and username == caller.principal.username:
        return await _page(
            request,
            errors=[{"field": "users", "href": "#users", "text": "You cannot disable your own account"}],
            status=422,
        )
    password = generated_password() if action == "reset" else None

    def change() -> User | str:
        with request.app.state.engine.begin() as conn:
            try:
                if action == "disable":
                    return disable_user(conn, username, actor=caller.principal.actor)
                if action == "enable":
                    return enable_user(conn, username, actor=caller.principal.actor)
                assert password is not None
                return reset_password(conn, username, password, actor=caller.principal.actor)
            except AccountError as exc:
                return str(exc)

    changed = await run_in_threadpool(change)
    if isinstance(changed, str):
        return await _page(
            request, errors=[{"field": "users", "href": "#users", "text": _sentence(changed)}], status=422
        )
    auth = request.app.state.auth
    auth.forget()  # a disabled account's cached tokens stop working at once in this process
    titles = {
        "disable": (
            f"Account {changed.username} disabled",
            "They cannot sign in; their sessions and tokens are revoked.",
        ),
        "enable": (
            f"Account {changed.username} enabled",
            "They can sign in again; their old sessions and tokens stay revoked.",
        ),
        "reset": (f"New password for {changed.username}", "Their sessions and tokens are revoked."),
    }
    title, text = titles[action]
    return await _page(request, done={"title": title, "text": text, "password": password, "username": changed.username})
