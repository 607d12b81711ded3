"""A real server and a real browser: uvicorn on loopback over a store of the small synthetic authority (with the
demonstration accounts), and Debian's Chromium driven by Playwright.

Every browser test is skipped, with the reason, when ``/usr/bin/chromium`` or the ``playwright`` package is
missing (``.ci/run`` installs both).  Playwright's own browser download is not used: it fails on these machines.

axe-core (``vendor/axe.min.js``, MPL-2.0) is added to every page by the browser as an init script, so the
service never serves it and the page's Content-Security-Policy stays on while the tests run.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from matching.access import Actor
from matching.accounts.demo import seed_demo_accounts
from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder

CHROMIUM = Path("/usr/bin/chromium")
HERE = Path(__file__).resolve().parent
AXE = HERE / "vendor" / "axe.min.js"
SCREENSHOTS = HERE.parent / "artefacts" / "screenshots"
#: The WCAG 2.2 A and AA rules of axe-core.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = (1280, 390)

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None  # type: ignore[assignment]

_MISSING = (
    "Debian's Chromium is not at /usr/bin/chromium (apt-get install chromium)"
    if not CHROMIUM.exists()
    else "the playwright package is not installed (pip install -e '.[dev]')"
    if sync_playwright is None
    else None
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)
            if _MISSING:
                item.add_marker(pytest.mark.skip(reason=_MISSING))


@pytest.fixture(scope="session")
def browser_store(small_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('browser') / 'store.db'}")
    upgrade(engine)
    import_folder(engine, small_folder)
    with engine.begin() as conn:
        seed_demo_accounts(conn, environment="development", actor=Actor.system("tests"))
    yield engine
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(browser_store: Engine) -> Iterator[str]:
    """The service on a free loopback port, in a thread of this process; its base URL."""
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    port = _free_port()
    config = uvicorn.Config(
        create_app(Settings(), engine=browser_store), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-browser-tests", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


class Session:
    """A browser context (its own cookies) with axe-core on every page, that records what the console says."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.base = base
        self.context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.add_init_script(path=str(AXE))
        self.page: Page = self.context.new_page()
        self.console_errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # A page answered with 401, 403 or 404 on purpose is logged as a failed load: the responses are checked
        # below instead, where the page itself is told apart from what it loads.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(message.text)

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.console_errors.append(f"{response.status} {response.url}")

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def sign_in(self, username: str, password: str, next_path: str | None = None) -> None:
        """Through the form, as a person would: type the username and password and press the button."""
        self.goto("/pages/sign-in" + (f"?next={next_path}" if next_path else ""))
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()

    def api(self, path: str, **params: Any) -> Any:
        """The API's answer to ``path`` with this session's cookie (a GET: no CSRF header needed)."""
        r = self.context.request.get(self.base + path, params=params)
        assert r.ok, (path, r.status)
        return r.json()

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's violations of the WCAG 2.2 A/AA rules on the page as it is now."""
        result = self.page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
        )
        return list(result["violations"])

    def check(self, name: str) -> None:
        """axe-core finds nothing (at 1280 and 390 px), no script error or Content-Security-Policy refusal was
        logged, the page is no wider than the screen at 1280, 390 and 320 px, and a screenshot of the whole page
        at each width is saved as ``<name>-<width>.png``; at 640 px (200% zoom) the page is screenshotted too."""
        violations = self.axe()
        AXE_FIGURES[f"{name}@1280"] = len(violations)
        assert violations == [], [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:5]) for v in violations]
        assert self.console_errors == [], self.console_errors
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for width in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": 900})
            if width < 1000:  # the narrow layout is axe-checked too (the navigation collapses, tables scroll)
                narrow = self.axe()
                AXE_FIGURES[f"{name}@{width}"] = len(narrow)
                assert narrow == [], [(v["id"], v["help"]) for v in narrow]
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        # Nothing wider than the screen (a wide table scrolls in its own box): at 1280 and 390 px, at 640 px (a
        # 1280 px window at 200% zoom lays out as 640 CSS px) and at 320 px (WCAG 1.4.10 reflow: 1280 at 400%).
        for width in (*WIDTHS, 640, 320):
            self.page.set_viewport_size({"width": width, "height": 900})
            assert self.page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
            if width == 640:
                self.page.screenshot(path=str(SCREENSHOTS / f"{name}-zoom200.png"), full_page=True)
        self.page.set_viewport_size({"width": 1280, "height": 900})

    def close(self) -> None:
        self.context.close()


#: Violations per page checked in this run (printed at the end of the session).
AXE_FIGURES: dict[str, int] = {}


@pytest.fixture
def session(browser: Browser, server: str) -> Iterator[Session]:
    s = Session(browser, server)
    yield s
    s.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if AXE_FIGURES:
        terminalreporter.write_line(
            "axe-core WCAG 2.2 A/AA violations per page: "
            + ", ".join(f"{k} {v}" for k, v in sorted(AXE_FIGURES.items()))
            + f" (screenshots in {SCREENSHOTS})"
        )
