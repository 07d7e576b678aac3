"""The funnel and the applicant list over httpx: who may see and export, CSRF, views kept
server-side (never a searched NIK in an address), the export's file and its audit entry."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlsplit

import httpx
from openpyxl import load_workbook

from storage.db import Database
from storage.models import Applicant
from storage.repositories import Audit
from tests.desk.accounts import csrf_in, sign_in
from tests.desk.population import nik_of, seed_population

ROW_LINK = re.compile(r'href="/desk/applicants/(\d+)"')


async def _search(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    page = await client.get("/desk/applicants")
    return await client.post("/desk/applicants", data={"csrf_token": csrf_in(page.text), **fields})


async def _actions(db: Database) -> list[tuple[str, str, dict[str, object]]]:
    async with db.transaction() as session:
        return [(e.actor, e.action, e.detail) for e in await Audit(session).recent()]


async def _named(db: Database, applicant_id: int) -> str:
    async with db.transaction() as session:
        applicant = await session.get(Applicant, applicant_id)
        assert applicant is not None and applicant.full_name is not None
        return applicant.full_name


async def test_a_nik_search_is_posted_and_kept_server_side_never_in_the_address(
    client: httpx.AsyncClient, db: Database
) -> None:
    await seed_population(db)
    await sign_in(client, "vina")
    nik = nik_of(40)
    sent = await _search(client, search=nik)
    assert sent.status_code == 303
    address = sent.headers["location"]
    assert nik not in address and set(parse_qs(urlsplit(address).query)) == {"v"}
    listed = await client.get(address)
    assert ROW_LINK.findall(listed.text) == ["40"]
    assert await _named(db, 40) in listed.text
    assert nik not in str(listed.url)


async def test_a_kept_view_belongs_to_its_session(client: httpx.AsyncClient, db: Database) -> None:
    await seed_population(db)
    await sign_in(client, "rudi")
    address = (await _search(client, search=nik_of(40))).headers["location"]
    transport = client._transport  # the same app, another browser
    async with httpx.AsyncClient(transport=transport, base_url="http://desk.test") as other:
        await sign_in(other, "vina")
        gone = await other.get(address)
    assert gone.status_code == 303
    assert gone.headers["location"] == "/desk/applicants?flash=view_gone"


async def test_a_funnel_link_becomes_a_kept_view_and_an_unknown_step_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    await seed_population(db)
    await sign_in(client, "vina")
    funnel = await client.get("/desk/funnel")
    assert 'href="/desk/applicants?step=passed%3A1"' in funnel.text
    linked = await client.get("/desk/applicants?step=passed%3A1")
    assert linked.status_code == 303 and "step" not in linked.headers["location"]
    assert (await client.get("/desk/applicants?step=passed%3A9")).status_code == 400


async def test_a_viewer_sees_no_export_and_is_refused_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    await seed_population(db)
    await sign_in(client, "vina")
    page = await client.get("/desk/applicants")
    assert page.status_code == 200 and "Unduh XLSX" not in page.text
    refused = await client.post(
        "/desk/applicants/export", data={"csrf_token": csrf_in(page.text), "v": ""}
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    detail = {"path": "/desk/applicants/export", "reason": "role", "permission": "export"}
    assert ("desk:vina", "desk_refused", detail) in await _actions(db)


async def test_an_export_without_its_csrf_token_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, "rudi")
    refused = await client.post("/desk/applicants/export", data={"v": ""})
    assert refused.status_code == 403
    assert "applicants_exported" not in [what for _, what, _ in await _actions(db)]


async def test_the_export_is_the_whole_view_formula_safe_uncached_and_audited(
    client: httpx.AsyncClient, db: Database
) -> None:
    await seed_population(db)
    async with db.transaction() as session:
        applicant = await session.get(Applicant, 40)
        assert applicant is not None
        applicant.full_name = '=HYPERLINK("http://x.test","klik")'
    await sign_in(client, "rudi")
    address = (await _search(client, kecamatan="", step="started", search="")).headers["location"]
    page = await client.get(address)
    form = {"csrf_token": csrf_in(page.text), "v": parse_qs(urlsplit(address).query)["v"][0]}
    download = await client.post("/desk/applicants/export", data=form)
    assert download.status_code == 200
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["content-disposition"].startswith("attachment;")
    sheet = load_workbook(io.BytesIO(download.content)).active
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(names) == 130  # every page, not the first 50
    assert '\'=HYPERLINK("http://x.test","klik")' in names
    (entry,) = [d for who, what, d in await _actions(db) if what == "applicants_exported"]
    assert entry == {"rows": 130, "filter": {"step": "started"}, "searched": False}
