"""The imports page as an administrator uses it, in Chromium: a broken data folder refused with its problem listed
(the validator's own finding), then a good one imported and listed among the latest imports; axe-core on the
form, the error state and the success state."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from matching.access import Role
from matching.contract.validate import validate_folder
from tests.browser.conftest import Session
from tests.browser.test_pages_in_browser import sign_in_as, texts


def zip_folder(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.glob("*.csv")):
            z.write(p, f"{folder.name}/{p.name}")
    return out


def test_administrator_imports_a_broken_then_a_good_data_folder(
    session: Session, small_folder: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "ashbury"
    shutil.copytree(small_folder, broken)
    sdq = broken / "sdq_scores.csv"
    lines = sdq.read_text().splitlines()
    child, assessed, _ = lines[3].split(",")
    lines[3] = f"{child},{assessed},99"
    sdq.write_text("\n".join(lines) + "\n")
    expected = validate_folder(broken).problems  # the library's own finding, for the same files
    assert len(expected) == 1

    sign_in_as(session, Role.ADMINISTRATOR, "/pages/admin/imports")
    page = session.page
    assert page.locator("h1").inner_text() == "Imports"
    before = page.locator("#import-table tbody tr").count()
    session.check("imports")

    page.get_by_label("The data folder, as a .zip").set_input_files(str(zip_folder(broken, tmp_path / "broken.zip")))
    page.get_by_role("button", name="Import the data folder").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    summary = page.locator(".govuk-error-summary")
    assert "1 problem in the data folder: nothing was imported" in summary.inner_text()
    summary.get_by_role("link").first.click()
    assert page.locator("#problems").is_visible()
    cells = texts(session, "#problem-table tbody tr td")
    p = expected[0]
    assert cells[0] == p.file
    assert cells[1] == f"{p.row:,}"
    assert cells[2] == p.column
    assert cells[3] == p.value
    assert cells[4] == p.expected
    assert page.locator("#import-table tbody tr").count() == before  # nothing imported
    session.check("imports-error")

    page.get_by_label("The data folder, as a .zip").set_input_files(
        str(zip_folder(small_folder, tmp_path / "good.zip"))
    )
    page.get_by_role("button", name="Import the data folder").click()
    page.wait_for_load_state()
    banner = page.locator(".govuk-notification-banner--success")
    assert "Data folder imported" in banner.inner_text()
    children = sum(1 for _ in (small_folder / "children.csv").open()) - 1
    counted = dict(zip(texts(session, "#done-counts tbody th"), texts(session, "#done-counts tbody td"), strict=True))
    assert counted["Children"] == f"{children:,}"
    first = page.locator("#import-table tbody tr").first.inner_text()
    assert "A data folder uploaded on this page" in first
    assert page.locator("#import-table tbody tr").count() == min(before + 1, 10)
    session.check("imports-done")


def test_the_imports_page_is_for_administrators_only(session: Session) -> None:
    sign_in_as(session, Role.PLACEMENT_OFFICER)
    response = session.goto("/pages/admin/imports")
    assert response.status == 403
    assert session.page.locator("h1").inner_text() == "Not for your role"
    assert "Imports" not in texts(session, ".govuk-service-navigation__item")
