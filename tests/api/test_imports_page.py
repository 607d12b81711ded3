"""The imports page: who may use it, its CSRF check, a safe unpacking of what is uploaded (no path leaving the
folder, no symbolic link, no zip bomb, a capped upload), every problem of a refused import listed with nothing
imported, the remit enforced, and a good data folder or SSDA903 return imported and listed among the latest."""

from __future__ import annotations

import html as html_lib
import io
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api.app import create_app
from api.middleware import body_limit
from api.routes.pages import imports
from api.settings import Settings
from matching.access import Role
from matching.accounts.demo import seed_demo_accounts
from matching.audit import recent_entries
from matching.store import schema
from matching.store.engine import make_engine, upgrade
from matching.store.importer import import_folder
from tests.api.conftest import SETUP, app_of, sign_in
from tests.ssda903.helpers import samples

PAGE = "/pages/admin/imports"
PageClient = Callable[[Role], TestClient]


@pytest.fixture(scope="module")
def import_store(small_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A store of its own (the imports here change it): the small authority and the demonstration accounts."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('imports') / 'store.db'}")
    upgrade(engine)
    import_folder(engine, small_folder)
    with engine.begin() as conn:
        seed_demo_accounts(conn, environment="development", actor=SETUP)
    yield engine
    engine.dispose()


@pytest.fixture
def as_role(import_store: Engine) -> Iterator[PageClient]:
    """``as_role(role)``: a browser-like client signed in to the pages over the imports' own store."""
    opened: list[TestClient] = []

    def make(role: Role) -> TestClient:
        client = TestClient(create_app(Settings(), engine=import_store))
        client.__enter__()
        opened.append(client)
        sign_in(client, role)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def admin(as_role: PageClient) -> TestClient:
    return as_role(Role.ADMINISTRATOR)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def counts(engine: Engine) -> dict[str, int]:
    """Rows in every table of the store's data, and in the import trail."""
    with engine.connect() as conn:
        out = {
            name: conn.execute(select(func.count()).select_from(t)).scalar_one() for name, t in schema.TABLES.items()
        }
        out["import_run"] = conn.execute(select(func.count()).select_from(schema.import_run)).scalar_one()
    return out


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def zipped_folder(folder: Path, root: str = "") -> bytes:
    """``folder`` (and its sub-folders) as a .zip, under ``root``."""
    return zipped({root + str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()})


def post_folder(client: TestClient, data: bytes, name: str = "folder.zip", token: str | None = None) -> httpx.Response:
    token = token if token is not None else csrf_of(client.get(PAGE).text)
    return client.post(
        PAGE,
        data={"csrf_token": token, "kind": "folder"},
        files=[("folder_files", (name, data, "application/zip"))],
    )


def summary(html: str) -> str:
    found = re.search(r'<div class="govuk-error-summary".*?</ul>', html, re.S)
    assert found is not None, "no error summary"
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", found.group(0)))


def problem_rows(html: str) -> list[list[str]]:
    table = re.search(r'<table class="govuk-table govuk-body-s" id="problem-table">.*?</table>', html, re.S)
    assert table is not None
    body = table.group(0).split("<tbody", 1)[1]
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


# --- who may use it ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMINISTRATOR])
def test_other_roles_get_the_403_page(as_role: PageClient, role: Role) -> None:
    client = as_role(role)
    r = client.get(PAGE)
    assert r.status_code == 403
    assert "Not for your role" in r.text
    token = csrf_of(client.get("/pages/home").text)
    r = client.post(PAGE, data={"csrf_token": token, "kind": "folder"}, files=[("folder_files", ("a.zip", b"x"))])
    assert r.status_code == 403


def test_the_page_shows_both_forms_and_the_latest_imports(admin: TestClient, import_store: Engine) -> None:
    r = admin.get(PAGE)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.text.count('enctype="multipart/form-data"') == 2
    assert r.text.count('name="csrf_token"') >= 2
    assert '<option value="L001">Ashbury (L001)</option>' in r.text  # the authorities of the remit only
    assert re.findall(r'<option value="(\d{4})"', r.text)[-1] == "2018"
    rows = re.findall(r'<tr class="govuk-table__row" data-import="(\d+)">', r.text)
    assert len(rows) == counts(import_store)["import_run"]
    assert "L001-C0" not in r.text
    assert "L001-H0" not in r.text


def test_the_upload_limit_is_below_the_servers_backstop() -> None:
    assert body_limit(PAGE, 65_536) > imports.MAX_UPLOAD_BYTES


# --- refusals before anything is read ----------------------------------------------------------------------------


def test_a_form_without_the_sessions_token_is_refused(admin: TestClient, small_folder: Path) -> None:
    r = post_folder(admin, zipped_folder(small_folder), token="not-the-token")
    assert r.status_code == 403
    r = admin.post(PAGE, data={"kind": "folder"}, files=[("folder_files", ("f.zip", b"x"))])
    assert r.status_code == 403


def test_a_form_not_sent_as_multipart_is_refused(admin: TestClient) -> None:
    r = admin.post(PAGE, data={"kind": "folder", "csrf_token": csrf_of(admin.get(PAGE).text)})
    assert r.status_code == 415


@pytest.mark.parametrize(
    ("member", "words"),
    [
        ("../evil.csv", "leaves its folder"),
        ("la/../../evil.csv", "leaves its folder"),
        ("..\\evil.csv", "leaves its folder"),
        ("/tmp/evil.csv", "is absolute"),
        ("C:/evil.csv", "is absolute"),
    ],
)
def test_a_zip_with_a_path_leaving_its_folder_is_refused(
    admin: TestClient, import_store: Engine, member: str, words: str
) -> None:
    before = counts(import_store)
    r = post_folder(admin, zipped({"children.csv": b"child_id\n", member: b"la_code\nL001\n"}))
    assert r.status_code == 422
    text = r.text
    assert words in summary(text)
    assert "evil" not in text  # nothing of the upload shown back
    assert not (Path(tempfile.gettempdir()) / "evil.csv").exists()
    assert counts(import_store) == before


def test_a_zip_with_a_symbolic_link_is_refused(admin: TestClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        link = zipfile.ZipInfo("children.csv")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    r = post_folder(admin, buffer.getvalue())
    assert r.status_code == 422
    assert "symbolic link" in summary(r.text)
    assert "root:" not in r.text


def test_a_zip_bomb_stops_at_the_unpacked_limit(admin: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "MAX_UNPACKED_BYTES", 100_000)
    bomb = zipped({"children.csv": b"child_id\n" + b"0" * 5_000_000})
    assert len(bomb) < 20_000
    r = post_folder(admin, bomb)
    assert r.status_code == 422
    assert "unpack to more than" in summary(r.text)


def test_a_zip_lying_about_its_sizes_is_refused(tmp_path: Path) -> None:
    data = zipped({"children.csv": b"child_id\n" + b"1" * 10_000})
    # make the central directory and the local header say 10 bytes: unpacking stops at what was said
    raw = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        real = z.infolist()[0].file_size
    size = real.to_bytes(4, "little")
    raw = bytearray(bytes(raw).replace(size, (10).to_bytes(4, "little")))
    with pytest.raises(imports.RefusedError):
        imports.unpack([("f.zip", io.BytesIO(bytes(raw)))], tmp_path, imports.contract_name, "folder_files")


def test_too_many_files_are_refused(tmp_path: Path) -> None:
    many = zipped({f"return{i}.csv": b"CHILD\n" for i in range(imports.MAX_FILES + 1)})
    with pytest.raises(imports.RefusedError, match="more than"):
        imports.unpack([("r.zip", io.BytesIO(many))], tmp_path, imports.return_name, "return_files")
    assert list(tmp_path.iterdir()) == []


def test_only_the_importers_files_are_written_under_their_own_names(tmp_path: Path) -> None:
    data = zipped({"la/Children.csv": b"a", "la/notes.txt": b"b", "__MACOSX/la/._x.csv": b"c", "la/.hidden": b"d"})
    got = imports.unpack([("f.zip", io.BytesIO(data))], tmp_path, imports.contract_name, "folder_files")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["children.csv"]
    assert (got.files, got.skipped) == (1, 1)
    again = tmp_path / "again"
    again.mkdir()
    twice = zipped({"a/children.csv": b"a", "b/children.csv": b"b"})
    with pytest.raises(imports.RefusedError, match="same name"):
        imports.unpack([("a.zip", io.BytesIO(twice))], again, imports.contract_name, "folder_files")


def test_an_oversize_upload_gets_the_413_page(
    admin: TestClient, import_store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 10_000)
    before = counts(import_store)
    r = post_folder(admin, b"0" * 20_000)
    assert r.status_code == 413
    assert "What you sent is too large" in r.text
    assert "larger than" in r.text
    assert counts(import_store) == before


def test_an_upload_over_the_real_cap_is_refused_before_it_is_read(admin: TestClient) -> None:
    token = csrf_of(admin.get(PAGE).text)
    r = admin.post(
        PAGE,
        content=b"--x--\r\n",
        headers={
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(imports.MAX_UPLOAD_BYTES + 1),
            "x-csrf-token": token,
        },
    )
    assert r.status_code == 413


# --- the importer's verdict --------------------------------------------------------------------------------------


def test_a_broken_folder_lists_its_problem_and_imports_nothing(
    admin: TestClient, import_store: Engine, small_folder: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "la"
    shutil.copytree(small_folder, folder)
    sdq = folder / "sdq_scores.csv"
    lines = sdq.read_text().splitlines()
    child, assessed, _score = lines[3].split(",")
    lines[3] = f"{child},{assessed},99"
    sdq.write_text("\n".join(lines) + "\n")
    before = counts(import_store)
    r = post_folder(admin, zipped_folder(folder, "la/"))
    assert r.status_code == 422
    text = r.text
    assert "<title>Error: Imports" in text
    assert "1 problem in the data folder: nothing was imported" in summary(text)
    assert 'href="#problems"' in text
    rows = problem_rows(text)
    assert len(rows) == 1
    file, row, column, value, expected = rows[0]
    assert (file, column, value) == ("sdq_scores.csv", "score", "99")
    assert row in ("4", "5")  # the fourth data row (counted with or without the header)
    assert expected
    assert child not in text  # the importer's fields only: the row's child is not shown
    assert counts(import_store) == before


def test_a_good_folder_is_imported_and_listed(admin: TestClient, import_store: Engine, small_folder: Path) -> None:
    before = counts(import_store)
    r = post_folder(admin, zipped_folder(small_folder, "small/"))
    assert r.status_code == 200, r.text
    text = r.text
    assert "govuk-notification-banner--success" in text
    assert "Data folder imported" in text
    counts_table = re.search(r'id="done-counts">.*?</table>', text, re.S)
    assert counts_table is not None
    children = sum(1 for _ in (small_folder / "children.csv").open()) - 1
    assert re.search(rf">Children</th><td[^>]*>{children:,}</td>", counts_table.group(0))
    assert "not read: not files of the data contract" in text  # the 903 sub-folders in the .zip
    after = counts(import_store)
    assert after["import_run"] == before["import_run"] + 1
    assert {k: v for k, v in after.items() if k != "import_run"} == {
        k: v for k, v in before.items() if k != "import_run"
    }  # the same files again change nothing
    first = re.search(r'data-import="\d+">(.*?)</tr>', text, re.S)
    assert first is not None
    assert "A data folder uploaded on this page" in first.group(1)
    app_of(admin).state.audit.flush()
    with import_store.connect() as conn:
        entry = next(e for e in recent_entries(conn, limit=20) if e.action == f"POST {PAGE}")
    assert entry.outcome == "200"
    assert entry.username == "demo.admin"
    assert entry.detail is not None
    assert entry.detail.startswith("data folder ")
    assert entry.child_ids == ()


def test_a_folder_of_another_authority_is_refused(
    admin: TestClient, import_store: Engine, small_folder: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    for p in small_folder.glob("*.csv"):
        (folder / p.name).write_text(p.read_text().replace("L001", "L777"))
    before = counts(import_store)
    r = post_folder(admin, zipped_folder(folder))
    assert r.status_code == 422
    assert "L777, outside your remit: nothing was imported" in summary(r.text)
    assert counts(import_store) == before


def test_a_data_folder_form_without_a_file(admin: TestClient) -> None:
    token = csrf_of(admin.get(PAGE).text)
    r = admin.post(
        PAGE, data={"csrf_token": token, "kind": "folder"}, files=[("folder_files", ("", b"", "application/zip"))]
    )
    assert r.status_code == 422
    assert "Choose the .zip of the data folder" in summary(r.text)
    assert 'href="#folder_files"' in r.text
    assert 'id="folder_files-error"' in r.text


# --- SSDA903 returns ---------------------------------------------------------------------------------------------


def post_return(client: TestClient, files: list[tuple[str, bytes]], la_code: str, year: str = "") -> httpx.Response:
    token = csrf_of(client.get(PAGE).text)
    return client.post(
        PAGE,
        data={"csrf_token": token, "kind": "ssda903", "la_code": la_code, "year": year},
        files=[("return_files", (name, data, "text/csv")) for name, data in files],
    )


def test_a_return_for_an_authority_outside_the_remit_is_refused(admin: TestClient, import_store: Engine) -> None:
    before = counts(import_store)
    r = post_return(admin, [("header.csv", b"CHILD\n")], "L999")
    assert r.status_code == 403
    assert counts(import_store) == before


def test_the_return_forms_errors_link_to_their_fields(admin: TestClient) -> None:
    token = csrf_of(admin.get(PAGE).text)
    r = admin.post(
        PAGE,
        data={"csrf_token": token, "kind": "ssda903", "la_code": "", "year": "1999"},
        files=[("return_files", ("", b"", "text/csv"))],
    )
    assert r.status_code == 422
    text = summary(r.text)
    assert "Choose the return's files" in text
    assert "Choose the authority making the return" in text
    assert "Choose a collection year from the list" in text
    for field in ("return_files", "la_code", "year"):
        assert f'href="#{field}"' in r.text
        assert f'id="{field}-error"' in r.text


def test_a_broken_return_lists_its_problems(admin: TestClient, import_store: Engine) -> None:
    before = counts(import_store)
    header = b"CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nC1,9,01/05/2012,WBRI,,,\n"
    episodes = b"CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n"
    episodes += b"C1,01/06/2020,S,C2,N1,U4,PR1,,,,,,\n"
    r = post_return(admin, [("header.csv", header), ("episodes.csv", episodes)], "L001", "2021")
    assert r.status_code == 422
    text = r.text
    assert "in the 2020-21 SSDA903 return: nothing was imported" in summary(text)
    assert ["header.csv", "2", "SEX", "9"] in [row[:4] for row in problem_rows(text)]
    assert counts(import_store) == before


def test_the_authoritys_own_return_is_imported(admin: TestClient, import_store: Engine, small_folder: Path) -> None:
    before = counts(import_store)
    r = post_return(admin, [("return.zip", zipped_folder(small_folder / "903" / "L001", "L001/"))], "L001")
    assert r.status_code == 200, r.text
    text = r.text
    assert re.search(r"SSDA903 return of Ashbury \(L001\) for \d{4}-\d\d imported", text)
    assert counts(import_store)["import_run"] == before["import_run"] + 1
    first = re.search(r'data-import="\d+">(.*?)</tr>', text, re.S)
    assert first is not None
    assert "An SSDA903 return" in first.group(1)


def test_a_published_sample_return_is_imported(admin: TestClient, import_store: Engine) -> None:
    folder = samples()
    files = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.suffix in (".csv", ".xml")]
    before = counts(import_store)
    r = post_return(admin, files, "L001")
    assert r.status_code == 200, r.text
    assert "SSDA903 return of Ashbury (L001) for 2017-18 imported" in r.text
    after = counts(import_store)
    assert after["children"] > before["children"]
    assert after["import_run"] == before["import_run"] + 1
