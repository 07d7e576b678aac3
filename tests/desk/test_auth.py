"""The desk's sign-in, session and permission rules as a browser meets them (over httpx, no
browser): cookie flags, CSRF on every POST, roles, throttling, expiry on the injected clock."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from bot.desk import DeskDeps
from bot.web import build_web_app
from core.clock import FrozenClock
from services.desk_sessions import ThrottlePolicy
from storage.db import Database
from storage.repositories import REGISTRATION_CLOSED, Audit, Flags
from tests.desk.accounts import PASSWORD, csrf_in, sign_in


def _cookie_header(response: httpx.Response) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith("mitrabot_desk=")]
    assert len(headers) == 1, headers
    return headers[0]


async def _closed(db: Database) -> bool:
    async with db.transaction() as session:
        flag = await Flags(session).get(REGISTRATION_CLOSED)
    return bool(flag and flag.get("closed"))


async def _actions(db: Database) -> list[tuple[str, str, dict[str, object]]]:
    async with db.transaction() as session:
        entries = await Audit(session).recent()
    return [(e.actor, e.action, e.detail) for e in reversed(entries)]


async def test_signing_in_sets_a_strict_httponly_cookie_and_shows_who_and_which_role(
    client: httpx.AsyncClient,
) -> None:
    signed = await sign_in(client, "ani")
    assert signed.status_code == 303 and signed.headers["location"] == "/desk/"
    cookie = _cookie_header(signed)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/desk" in cookie
    assert "Secure" not in cookie  # plain http (a local test); see the https test
    home = await client.get("/desk/")
    assert home.status_code == 200
    assert "Selamat datang, Ani Wulandari" in home.text and "Peran: admin" in home.text
    assert home.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]


async def test_the_cookie_is_secure_over_https_or_when_the_setting_says_so(
    desk_app: Starlette, db: Database, desk_deps: DeskDeps, clock: FrozenClock
) -> None:
    transport = httpx.ASGITransport(app=desk_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://desk.test") as https:
        assert "; Secure" in _cookie_header(await sign_in(https, "ani"))
    forced = DeskDeps(db, desk_deps.deps, secure_cookie=True)
    app = build_web_app(db, now=clock.now, desk=forced)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://desk.test") as http:
        # behind a proxy that ends TLS: the browser would send it back over https only
        form = await http.get("/desk/login")
        assert "; Secure" in form.headers["set-cookie"]


async def test_a_wrong_password_or_an_unknown_name_is_refused_with_the_same_message(
    client: httpx.AsyncClient, db: Database
) -> None:
    for login, password in (("ani", "bukan-kata-sandinya"), ("siapa", PASSWORD)):
        refused = await sign_in(client, login, password)
        assert refused.status_code == 401
        assert "Nama login atau kata sandi salah" in refused.text
        assert "mitrabot_desk=" not in refused.headers.get("set-cookie", "")
    assert (await client.get("/desk/")).headers["location"] == "/desk/login"
    refusals = [
        detail for _, action, detail in await _actions(db) if action == "desk_sign_in_refused"
    ]
    assert refusals == [{"login": "ani"}, {}]  # what a stranger typed is not kept


async def test_after_five_wrong_passwords_the_name_is_held_for_fifteen_minutes(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    for _ in range(4):
        assert (await sign_in(client, "ani", "salah-lagi-salah")).status_code == 401
    held = await sign_in(client, "ani", "salah-lagi-salah")
    assert held.status_code == 429
    assert "Terlalu banyak percobaan masuk yang gagal" in held.text
    assert "coba lagi setelah 10 November 2023, 09.15 WIB" in held.text
    assert (await sign_in(client, "ani")).status_code == 429  # even the right password
    assert (await sign_in(client, "rudi")).status_code == 303  # another name is not held
    client.cookies.clear()
    clock.advance(timedelta(minutes=15))
    assert (await sign_in(client, "ani")).status_code == 303


async def test_many_failures_from_one_address_hold_that_address(
    db: Database, desk_deps: DeskDeps, clock: FrozenClock, desk_app: Starlette
) -> None:
    strict = DeskDeps(db, desk_deps.deps, throttle=ThrottlePolicy(per_login=5, per_address=3))
    app = build_web_app(db, now=clock.now, desk=strict)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://desk.test") as http:
        for name in ("budi", "citra"):
            assert (await sign_in(http, name, "tebak-tebakan")).status_code == 401
        assert (await sign_in(http, "dodi", "tebak-tebakan")).status_code == 429
        assert (await sign_in(http, "vina")).status_code == 429


async def test_the_sign_in_form_without_its_token_is_refused(client: httpx.AsyncClient) -> None:
    await client.get("/desk/login")
    refused = await client.post("/desk/login", data={"login": "ani", "password": PASSWORD})
    assert refused.status_code == 403 and "Formulir tidak berlaku" in refused.text
    assert "mitrabot_desk=" not in refused.headers.get("set-cookie", "")


async def test_a_post_without_the_sessions_csrf_token_is_refused_and_audited(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, "ani")
    home = await client.get("/desk/")
    token = csrf_in(home.text)
    for data in ({"action": "close"}, {"action": "close", "csrf_token": "tebakan"}):
        refused = await client.post("/desk/registration", data=data)
        assert refused.status_code == 403 and "Formulir tidak berlaku" in refused.text
    assert not await _closed(db)
    refusals = [
        (who, detail["reason"])
        for who, action, detail in await _actions(db)
        if action == "desk_refused"
    ]
    assert refusals == [("desk:ani", "csrf"), ("desk:ani", "csrf")]
    # htmx sends the token in a header instead of a field
    done = await client.post("/desk/registration", data={}, headers={"X-CSRF-Token": token})
    assert done.status_code == 303 and await _closed(db)


@pytest.mark.parametrize("login", ["vina", "rudi"])
async def test_only_an_admin_may_close_registration_and_a_refusal_is_audited(
    client: httpx.AsyncClient, db: Database, login: str
) -> None:
    await sign_in(client, login)
    home = await client.get("/desk/")
    assert "Tutup pendaftaran sekarang" not in home.text  # not offered ...
    data = {"csrf_token": csrf_in(home.text), "action": "close", "reason": "coba"}
    refused = await client.post("/desk/registration", data=data)  # ... and refused when forced
    assert refused.status_code == 403 and "Tidak diizinkan" in refused.text
    assert not await _closed(db)
    assert (f"desk:{login}", "desk_refused") in [
        (who, action) for who, action, _ in await _actions(db)
    ]


async def test_an_admin_closes_and_reopens_registration_in_the_audit_log(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    await sign_in(client, "ani")
    token = csrf_in((await client.get("/desk/")).text)
    closed = await client.post(
        "/desk/registration", data={"csrf_token": token, "action": "close", "reason": "kuota 300"}
    )
    page = await client.get(closed.headers["location"])
    assert "Pendaftaran ditutup lebih awal." in page.text
    assert "ditutup lebih awal" in page.text and "Buka kembali pendaftaran" in page.text
    await client.post("/desk/registration", data={"csrf_token": token, "action": "reopen"})
    assert not await _closed(db)
    entries = await _actions(db)
    assert ("desk:ani", "registration_closed", {"reason": "kuota 300"}) in entries
    assert ("desk:ani", "registration_reopened", {}) in entries


async def test_signing_out_ends_the_session_for_the_old_cookie_too(
    client: httpx.AsyncClient, desk_app: Starlette
) -> None:
    await sign_in(client, "ani")
    old = client.cookies["mitrabot_desk"]
    token = csrf_in((await client.get("/desk/")).text)
    out = await client.post("/desk/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/desk/login?flash=signed_out"
    assert "Anda sudah keluar" in (await client.get(out.headers["location"])).text
    transport = httpx.ASGITransport(app=desk_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://desk.test", cookies={"mitrabot_desk": old}
    ) as replay:
        assert (await replay.get("/desk/")).headers["location"] == "/desk/login"


async def test_a_session_ends_after_eight_idle_hours_and_after_seven_days_at_most(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await sign_in(client, "ani")
    clock.advance(timedelta(hours=7, minutes=59))
    assert (await client.get("/desk/")).status_code == 200  # a request restarts the idle time
    clock.advance(timedelta(hours=8))
    assert (await client.get("/desk/")).headers["location"] == "/desk/login"

    await sign_in(client, "ani")
    signed_at = clock.now()
    for _ in range(50):  # busy every 4 hours
        clock.advance(timedelta(hours=4))
        if (await client.get("/desk/")).status_code != 200:
            break
    assert timedelta(days=7) <= clock.now() - signed_at < timedelta(days=7, hours=4)


async def test_an_unknown_desk_address_is_a_404_page(client: httpx.AsyncClient) -> None:
    missing = await client.get("/desk/tidak-ada")
    assert missing.status_code == 404 and "Halaman tidak ditemukan" in missing.text


async def test_every_link_on_the_home_page_leads_to_a_page(client: httpx.AsyncClient) -> None:
    await sign_in(client, "ani")
    home = await client.get("/desk/")
    paths = set(re.findall(r'(?:href|src)="([^"]+)"', home.text))
    assert {"/desk/", "/desk/static/desk.css", "/desk/static/vendor/htmx.min.js"} <= paths
    for path in paths:
        assert (await client.get(path)).status_code == 200, path
