"""The desk in a real browser (headless Chromium, 360 px wide like a small phone): signing in
and out, refusals a person would meet, the cookie's flags, no horizontal scrolling."""

from __future__ import annotations

from typing import Any

import pytest

from storage.repositories import Audit
from tests.desk.accounts import PASSWORD
from tests.desk.live import LiveDesk

pytestmark = pytest.mark.asyncio(loop_scope="session")
PHONE_WIDTH = 360


async def sign_in(page: Any, login: str, password: str = PASSWORD) -> None:
    """Fill in and send the sign-in form."""
    await page.goto("/desk/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


async def _audit(live: LiveDesk) -> list[tuple[str, str, dict[str, Any]]]:
    async with live.db.transaction() as session:
        return [(e.actor, e.action, e.detail) for e in await Audit(session).recent()]


async def test_signing_in_shows_home_with_name_and_role(page: Any) -> None:
    await sign_in(page, "ani")
    await page.wait_for_url("**/desk/")
    assert await page.inner_text("h1") == "Selamat datang, Ani Wulandari"
    assert await page.text_content(".who .role") == "admin"
    links = await page.eval_on_selector_all("nav.sections a", "a => a.map(l => l.pathname)")
    assert links[0] == "/desk/"
    for link in links:  # only pages that exist are linked
        assert (await page.request.get(link)).status == 200, link


async def test_a_wrong_password_is_refused_with_a_message(page: Any) -> None:
    await sign_in(page, "ani", "bukan-kata-sandinya")
    assert "Nama login atau kata sandi salah" in await page.inner_text("[role=alert]")
    assert await page.input_value("input[name=login]") == "ani"  # kept, to try again
    assert not any(c["name"] == "mitrabot_desk" for c in await page.context.cookies())


async def test_five_wrong_passwords_hold_the_name(page: Any) -> None:
    for _ in range(5):
        await sign_in(page, "rudi", "tebak-tebakan")
    message = await page.inner_text("[role=alert]")
    assert "Terlalu banyak percobaan masuk yang gagal" in message
    assert "10 November 2023, 09.15 WIB" in message
    await sign_in(page, "rudi")
    assert "Terlalu banyak percobaan" in await page.inner_text("[role=alert]")


async def test_a_form_sent_without_its_csrf_token_is_refused(page: Any, live: LiveDesk) -> None:
    await sign_in(page, "ani")
    await page.wait_for_url("**/desk/")
    form = "form[action='/desk/registration']"
    await page.eval_on_selector(f"{form} input[name=csrf_token]", "input => input.remove()")
    async with page.expect_navigation() as sent:
        await page.click(f"{form} button")
    assert (await sent.value).status == 403
    assert await page.inner_text("h1") == "Formulir tidak berlaku"
    assert ("desk:ani", "desk_refused") in [(who, what) for who, what, _ in await _audit(live)]


FORCED_CLOSE = """() => {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = '/desk/registration';
    const action = document.createElement('input');
    action.name = 'action';
    action.value = 'close';
    form.append(document.querySelector('input[name=csrf_token]').cloneNode(), action);
    document.body.append(form);
    form.submit();
}"""
"""What a viewer could make the browser send: the admin's form, with the viewer's own token."""


async def test_a_viewer_forcing_an_admin_action_is_refused_and_audited(
    page: Any, live: LiveDesk
) -> None:
    await sign_in(page, "vina")
    await page.wait_for_url("**/desk/")
    assert await page.locator("form[action='/desk/registration']").count() == 0  # not offered
    async with page.expect_navigation() as sent:
        await page.evaluate(FORCED_CLOSE)
    assert (await sent.value).status == 403
    assert await page.inner_text("h1") == "Tidak diizinkan"
    entries = await _audit(live)
    refused = [detail for who, what, detail in entries if what == "desk_refused"]
    assert refused == [
        {"path": "/desk/registration", "reason": "role", "permission": "registration_window"}
    ]
    assert "registration_closed" not in [what for _, what, _ in entries]


async def test_the_session_cookie_is_httponly_and_strict_and_signing_out_ends_it(
    page: Any, browser: Any, live: LiveDesk
) -> None:
    await sign_in(page, "ani")
    await page.wait_for_url("**/desk/")
    (cookie,) = [c for c in await page.context.cookies() if c["name"] == "mitrabot_desk"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/desk"
    assert await page.evaluate("document.cookie") == ""  # no script can read it
    await page.click("text=Keluar")
    await page.wait_for_url("**/desk/login?flash=signed_out")
    assert "Anda sudah keluar" in await page.inner_text("[role=status]")
    stolen = await browser.new_context(base_url=live.url)
    try:
        await stolen.add_cookies([cookie])
        replay = await stolen.new_page()
        await replay.goto("/desk/")
        assert replay.url.endswith("/desk/login")
    finally:
        await stolen.close()


async def test_home_fits_a_360_px_phone_without_sideways_scrolling(page: Any) -> None:
    await sign_in(page, "ani")
    await page.wait_for_url("**/desk/")
    assert page.viewport_size["width"] == PHONE_WIDTH
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= PHONE_WIDTH
    await page.goto("/desk/login")  # signed in: back home
    assert page.url.endswith("/desk/")
