"""Button ids: every family packs the ids buttons already carry, and reads bad ones as None."""

from __future__ import annotations

import pytest

from core.callbacks import (
    AudienceStageButton,
    CallbackData,
    DocumentAction,
    DocumentButton,
    FieldButton,
    MenuButton,
    MenuItem,
    SobatAction,
    SobatButton,
    SobatPath,
    SobatPathButton,
)
from tests.chat import Chat


@pytest.mark.parametrize(
    ("button", "packed"),
    [
        (MenuButton(MenuItem.STATUS), "menu:status"),
        (DocumentButton(DocumentAction.LATER), "doc:later"),
        (DocumentButton(DocumentAction.REPLACE, "ktp"), "doc:replace:ktp"),
        (FieldButton("kecamatan", "3528:x"), "f:kecamatan:3528:x"),
        (SobatButton(SobatAction.EMAIL_SAME), "sb:email:same"),
        (SobatPathButton(SobatPath.NEW), "sb:path:new"),
        (AudienceStageButton("passed", "1"), "bcs:passed:1"),
    ],
)
def test_pack_and_unpack_are_inverse(button: CallbackData, packed: str) -> None:
    assert button.pack() == packed
    assert type(button).unpack(packed) == button


@pytest.mark.parametrize(
    ("family", "data"),
    [
        (MenuButton, "menu:nothing"),
        (MenuButton, "menu"),
        (MenuButton, None),
        (MenuButton, ""),
        (DocumentButton, "doc:"),
        (FieldButton, "f:sex"),
        (SobatButton, "sb:path:new"),
        (SobatPathButton, "sb:path:maybe"),
        (AudienceStageButton, "bca:passed"),
    ],
)
def test_other_old_or_malformed_ids_are_none(family: type[CallbackData], data: str | None) -> None:
    assert family.unpack(data) is None


@pytest.mark.parametrize(
    "data",
    ["menu:nothing", "menu", "doc:replace:passport", "f:sex", "sb:path:maybe", "bcs:", "x" * 64],
)
async def test_an_old_or_malformed_button_gets_the_polite_answer(chat: Chat, data: str) -> None:
    await chat.send("halo")
    await chat.press("menu:register")
    await chat.press("consent:yes")
    replies = await chat.press(data)
    assert "sudah tidak berlaku" in replies[0].text
    assert (await chat.session()).step == "eligibility"
