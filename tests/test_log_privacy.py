"""Logs never hold a NIK, a phone number, a name or an e-mail, even from malformed webhooks."""

from __future__ import annotations

import logging
import re

import pytest

from bot.logs import RedactPersonal, quiet_libraries, redact
from tests.fakes.whatsapp_webhook import Sender
from tests.test_whatsapp import WhatsAppRig, rig  # noqa: F401 (the fixture)

NIK = "3528015708950003"
PLANTED = (NIK, "Siti Aminah", "siti.aminah@example.com", "81234567890")
SITI = Sender(user_id="ID.1349120865530274", wa_id="6281234567890", name="Siti Aminah")


def _clean(text: str) -> list[str]:
    joined = re.sub(r"(?<=\d)[\s.-](?=\d)", "", text).casefold()
    return [value for value in PLANTED if value.casefold() in joined]


def _malformed(hooks: WhatsAppRig) -> list[dict]:
    """Signed payloads of the wrong shape, each carrying personal values."""
    text = hooks.build.text(f"NIK saya {NIK}", sender=SITI)
    value = text["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    cases = []
    for part, wrong in (
        ("text", {"body": {"nik": NIK, "email": "siti.aminah@example.com"}}),
        ("text", [f"Siti Aminah {NIK}"]),
        ("interactive", {"button_reply": [NIK]}),
        ("type", {"phone": "+62 812-3456-7890"}),
        ("timestamp", {"name": "Siti Aminah"}),
        ("from", {"wa_id": "6281234567890"}),
    ):
        payload = hooks.build.text("x", sender=SITI)
        changed = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        changed.update({k: v for k, v in message.items() if k != part})
        changed[part] = wrong
        cases.append(payload)
    contacts = hooks.build.text("halo", sender=SITI)
    contacts["entry"][0]["changes"][0]["value"]["contacts"] = [["Siti Aminah", NIK]]
    statuses = hooks.build.text("halo", sender=SITI)
    statuses["entry"][0]["changes"][0]["value"]["statuses"] = [
        {"id": "x", "recipient_id": "6281234567890", "errors": [{"code": NIK, "title": [NIK]}]}
    ]
    return [*cases, contacts, statuses]


async def test_malformed_signed_whatsapp_payloads_log_no_personal_value(
    rig: WhatsAppRig,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_libraries()
    caplog.set_level(logging.DEBUG)
    for payload in _malformed(rig):
        response = await rig.post(payload)
        assert response.status_code == 200
    assert caplog.records, "the malformed parts are logged"
    assert _clean(caplog.text) == []


def test_the_filter_masks_what_reached_a_log_line_anyway() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "input_value=%r from %s", (NIK, "siti@example.com"), None
    )
    try:
        raise ValueError("0812-3456-7890 and +62 812 3456 7890")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactPersonal().filter(record)
    line = logging.Formatter().format(record)
    assert NIK not in line and "siti@example.com" not in line and "3456" not in line
    assert "[NIK]" in line and "[e-mail]" in line and "[phone]" in line
    assert redact("tanggal 17-08-1995, 20 MB") == "tanggal 17-08-1995, 20 MB"
