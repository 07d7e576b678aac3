"""The fake Graph API and webhook builders (tests/fakes) against the REAL pywa_async client.

pywa has no base-URL option (it hard-codes ``https://graph.facebook.com/v{api_version}`` into
the session), so the client gets ``session=fake.session()``: an ``httpx.AsyncClient`` whose
transport redirects ``graph.facebook.com`` to the fake on 127.0.0.1.  The alternative (setting
``session.base_url`` after construction) is tested too.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from pywa import utils as pywa_utils
from pywa_async import WhatsApp, handlers
from pywa_async import errors as wa_errors
from pywa_async.types import (
    Button,
    CallbackButton,
    CallbackSelection,
    Message,
    MessageStatus,
    Section,
    SectionList,
    SectionRow,
)
from pywa_async.types.templates import BodyText, TemplateLanguage

from tests.fakes.graph_api import FakeGraphApi, GraphError
from tests.fakes.telegram_api import DEFAULT_JPEG
from tests.fakes.whatsapp_webhook import (
    SIGNATURE_HEADER,
    Sender,
    WebhookBuilder,
    batch,
    encode,
    message_id_of,
    sign,
    signed_request,
)

WA_ID = "6281234567890"
OTHER_WA_ID = "6289876543210"
USER_ID = "ID.1349120865530274"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraphApi]:
    async with FakeGraphApi() as api:
        yield api


@pytest.fixture
def wa(fake: FakeGraphApi) -> WhatsApp:
    return fake.client()


@pytest.fixture
def hooks(fake: FakeGraphApi) -> WebhookBuilder:
    return WebhookBuilder(
        phone_id=fake.phone_id,
        waba_id=fake.waba_id,
        display_phone_number=fake.display_phone_number,
        sender=Sender(user_id=USER_ID, wa_id=WA_ID, name="Siti Aminah"),
    )


def collect_updates(wa: WhatsApp) -> list[Any]:
    """Register handlers keeping every typed update pywa constructs."""
    received: list[Any] = []

    async def keep(_: WhatsApp, update: Any) -> None:
        received.append(update)

    wa.add_handlers(
        handlers.MessageHandler(keep),
        handlers.CallbackButtonHandler(keep),
        handlers.CallbackSelectionHandler(keep),
        handlers.MessageStatusHandler(keep),
    )
    return received


async def deliver(wa: WhatsApp, fake: FakeGraphApi, payload: dict[str, Any]) -> None:
    """What a webhook endpoint does with pywa: validate the signature, then dispatch."""
    body, headers = signed_request(payload, fake.app_secret)
    assert await wa.webhook_update_validator(body, headers[SIGNATURE_HEADER]) is None
    assert await wa.webhook_update_handler(body) == ("ok", 200)


# --------------------------------------------------------------------------- sending


async def test_send_text_speaks_the_messages_endpoint(fake: FakeGraphApi, wa: WhatsApp) -> None:
    result = await wa.send_message(to=WA_ID, text="Halo, selamat datang!")

    [sent] = await fake.wait_for_messages(1, timeout=2)
    assert (sent.to, sent.type, sent.text) == (WA_ID, "text", "Halo, selamat datang!")
    assert result.id == sent.id and sent.id.startswith("wamid.")
    assert result.to == WA_ID
    assert sent.payload["messaging_product"] == "whatsapp"
    assert fake.calls[-1].path == f"/v{pywa_utils.Version.GRAPH_API.value}/{fake.phone_id}/messages"
    assert fake.messages_to("+62 812-3456-7890") == [sent]


async def test_send_to_a_business_scoped_user_id(fake: FakeGraphApi, wa: WhatsApp) -> None:
    fake.register_user(USER_ID, WA_ID)

    result = await wa.send_message(to=USER_ID, text="Halo")

    [sent] = fake.sent
    assert sent.payload["recipient"] == USER_ID and "to" not in sent.payload
    assert result.to == WA_ID  # the response carries both ids; pywa prefers wa_id
    assert fake.messages_to(WA_ID) == fake.messages_to(USER_ID) == [sent]


async def test_send_reply_buttons(fake: FakeGraphApi, wa: WhatsApp) -> None:
    await wa.send_message(
        to=WA_ID,
        text="Apakah Anda bersedia?",
        header="Persetujuan",
        footer="BPS",
        buttons=[Button("Ya, setuju", "consent:yes"), Button("Tidak", "consent:no")],
        reply_to_message_id="wamid.ABC",
        tracker="consent",
    )

    [sent] = fake.sent
    assert (sent.type, sent.interactive_type) == ("interactive", "button")
    assert (sent.text, sent.header, sent.footer) == ("Apakah Anda bersedia?", "Persetujuan", "BPS")
    assert sent.button_ids == ["consent:yes", "consent:no"]
    assert [b.title for b in sent.buttons] == ["Ya, setuju", "Tidak"]
    assert (sent.reply_to, sent.tracker) == ("wamid.ABC", "consent")


async def test_send_list(fake: FakeGraphApi, wa: WhatsApp) -> None:
    sections = SectionList(
        button_title="Pilih kecamatan",
        sections=[
            Section(title="Utara", rows=[SectionRow("Batumarmar", "kec:1", "12 desa")]),
            Section(title="Selatan", rows=[SectionRow("Tlanakan", "kec:2")]),
        ],
    )

    await wa.send_message(to=WA_ID, text="Kecamatan domisili?", buttons=sections)

    [sent] = fake.sent
    assert (sent.interactive_type, sent.list_button) == ("list", "Pilih kecamatan")
    assert sent.row_ids == ["kec:1", "kec:2"]
    assert [(r.title, r.description, r.section) for r in sent.rows] == [
        ("Batumarmar", "12 desa", "Utara"),
        ("Tlanakan", None, "Selatan"),
    ]


async def test_send_template(fake: FakeGraphApi, wa: WhatsApp) -> None:
    result = await wa.send_template(
        to=WA_ID,
        name="pengingat_berkas",
        language=TemplateLanguage.INDONESIAN,
        params=[BodyText.params("Budi", "12 Mei")],
    )

    [sent] = fake.sent
    assert sent.template is not None
    assert (sent.template.name, sent.template.language) == ("pengingat_berkas", "id")
    assert sent.template.parameters == ["Budi", "12 Mei"]
    assert result.status is not None and result.status.value == "accepted"


async def test_declared_templates_are_checked(fake: FakeGraphApi, wa: WhatsApp) -> None:
    fake.add_template("pengingat_berkas", "id", body_params=2)

    with pytest.raises(wa_errors.TemplateNotExists) as missing:
        await wa.send_template(to=WA_ID, name="nope", language=TemplateLanguage.INDONESIAN)
    with pytest.raises(wa_errors.TemplateParamCountMismatch):
        await wa.send_template(
            to=WA_ID,
            name="pengingat_berkas",
            language=TemplateLanguage.INDONESIAN,
            params=[BodyText.params("Budi")],
        )
    with pytest.raises(wa_errors.WhatsAppError) as newline:
        await wa.send_template(
            to=WA_ID,
            name="pengingat_berkas",
            language=TemplateLanguage.INDONESIAN,
            params=[BodyText.params("Budi", "12\nMei")],
        )

    assert missing.value.code == 132001
    assert newline.value.code == 100 and "new-line" in (newline.value.details or "")
    assert fake.sent == [] and [r.error.code for r in fake.rejected] == [132001, 132000, 100]


async def test_send_image_bytes_uploads_first(fake: FakeGraphApi, wa: WhatsApp) -> None:
    await wa.send_image(to=WA_ID, image=DEFAULT_JPEG, caption="Contoh foto", mime_type="image/jpeg")

    [upload, send] = fake.calls
    assert upload.path.endswith(f"/{fake.phone_id}/media")
    assert upload.body == {"messaging_product": "whatsapp", "type": "image/jpeg"}
    [sent] = fake.sent
    assert sent.media is not None and sent.media.media_id is not None
    assert sent.payload["image"] == {"id": sent.media.media_id, "caption": "Contoh foto"}
    assert (sent.media.kind, sent.media.mime_type, sent.text) == (
        "image",
        "image/jpeg",
        "Contoh foto",
    )
    assert sent.media.content == DEFAULT_JPEG
    assert send.path.endswith("/messages")


async def test_send_document_by_link_and_by_uploaded_id(fake: FakeGraphApi, wa: WhatsApp) -> None:
    await wa.send_document(
        to=WA_ID, document="https://example.org/pengumuman.pdf", filename="pengumuman.pdf"
    )
    uploaded = await wa.upload_media(PDF, mime_type="application/pdf", filename="hasil.pdf")
    await wa.send_document(to=WA_ID, document=uploaded, filename="hasil.pdf", caption="Hasil")

    by_link, by_id = fake.sent
    assert by_link.media is not None and by_link.media.link == "https://example.org/pengumuman.pdf"
    assert by_link.media.content is None
    assert by_id.media is not None and by_id.media.media_id == uploaded.id
    assert (by_id.media.content, by_id.media.filename, by_id.text) == (PDF, "hasil.pdf", "Hasil")


async def test_mark_as_read_and_typing(fake: FakeGraphApi, wa: WhatsApp) -> None:
    assert (await wa.mark_message_as_read("wamid.IN1")).success
    assert (await wa.indicate_typing("wamid.IN2")).success

    assert [(r.message_id, r.typing) for r in fake.read_receipts] == [
        ("wamid.IN1", False),
        ("wamid.IN2", True),
    ]
    assert fake.sent == []


async def test_base_url_alternative(fake: FakeGraphApi) -> None:
    async with httpx.AsyncClient() as session:
        wa = WhatsApp(phone_id=fake.phone_id, token=fake.token, session=session)
        session.base_url = httpx.URL(fake.base_url)  # after construction: pywa overwrites it

        await wa.send_message(to=WA_ID, text="lewat base_url")

    assert fake.calls[-1].path == f"/v{fake.api_version}/{fake.phone_id}/messages"
    assert [m.text for m in fake.sent] == ["lewat base_url"]


# --------------------------------------------------------------------------- media downloads


async def test_download_incoming_media(fake: FakeGraphApi, wa: WhatsApp) -> None:
    media_id = fake.add_media(PDF, "application/pdf", "ijazah.pdf")

    info = await wa.get_media_url(media_id)
    content = await wa.get_media_bytes(info.url)

    assert content == PDF
    assert (info.id, info.mime_type, info.file_size) == (media_id, "application/pdf", len(PDF))
    assert info.sha256 == hashlib.sha256(PDF).hexdigest()
    assert info.url.startswith(f"{fake.root_url}/media-download/")


async def test_media_download_needs_the_token(fake: FakeGraphApi) -> None:
    url = fake.media_url(fake.add_media(PDF, "application/pdf"))

    async with httpx.AsyncClient() as plain:
        anonymous = await plain.get(url)
        authorised = await plain.get(url, headers={"Authorization": f"Bearer {fake.token}"})

    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == 2500
    assert authorised.content == PDF


async def test_expired_media(fake: FakeGraphApi, wa: WhatsApp) -> None:
    media_id = fake.add_media(DEFAULT_JPEG, "image/jpeg")
    url = (await wa.get_media_url(media_id)).url

    fake.expire_media(media_id)

    with pytest.raises(wa_errors.WhatsAppError) as gone:
        await wa.get_media_url(media_id)
    assert (gone.value.code, gone.value.subcode, gone.value.status_code) == (100, 33, 400)
    with pytest.raises(httpx.HTTPStatusError) as stale:
        await wa.get_media_bytes(url)
    assert stale.value.response.status_code == 404


async def test_upload_rejects_unsupported_types(fake: FakeGraphApi, wa: WhatsApp) -> None:
    with pytest.raises(wa_errors.WhatsAppError) as refused:
        await wa.upload_media(b"GIF89a", mime_type="image/gif", filename="a.gif")

    assert refused.value.code == 100 and "image/gif" in refused.value.message


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("code", "exception", "http_status"),
    [
        (131047, wa_errors.ReEngagementMessage, 400),
        (130429, wa_errors.RateLimitHit, 400),
        (131056, wa_errors.TooManyMessages, 400),
        (131026, wa_errors.MessageUndeliverable, 400),
        (131000, wa_errors.UnknownError, 500),
    ],
)
async def test_injected_errors_surface_as_pywa_exceptions(
    fake: FakeGraphApi,
    wa: WhatsApp,
    code: int,
    exception: type[wa_errors.WhatsAppError],
    http_status: int,
) -> None:
    fake.inject_error(code)

    with pytest.raises(exception) as raised:
        await wa.send_message(to=WA_ID, text="Halo")

    error = raised.value
    assert (error.code, error.status_code, error.type) == (code, http_status, "OAuthException")
    assert error.message.startswith(f"(#{code}) ") and error.details and error.fbtrace_id
    assert [(r.to, r.error.code) for r in fake.rejected] == [(WA_ID, code)]
    await wa.send_message(to=WA_ID, text="Halo lagi")  # times=1: the next send goes through
    assert [m.text for m in fake.sent] == ["Halo lagi"]


async def test_error_for_one_recipient_until_cleared(fake: FakeGraphApi, wa: WhatsApp) -> None:
    fake.inject_error(131047, to=WA_ID, times=None)

    for _ in range(2):
        with pytest.raises(wa_errors.ReEngagementMessage):
            await wa.send_message(to=WA_ID, text="di luar 24 jam")
    await wa.send_message(to=OTHER_WA_ID, text="orang lain")
    await wa.send_template(to=WA_ID, name="pengingat", language=TemplateLanguage.INDONESIAN)
    fake.clear_errors(WA_ID)
    await wa.send_message(to=WA_ID, text="jendela dibuka lagi")

    assert [(m.to, m.type) for m in fake.sent] == [
        (OTHER_WA_ID, "text"),
        (WA_ID, "template"),
        (WA_ID, "text"),
    ]


async def test_asynchronous_failure_and_its_status_webhook(
    fake: FakeGraphApi, wa: WhatsApp, hooks: WebhookBuilder
) -> None:
    fake.inject_error(131026, asynchronous=True)
    received = collect_updates(wa)

    result = await wa.send_message(to=WA_ID, text="Halo")
    [sent] = fake.sent
    assert sent.failure is not None and sent.failure.code == 131026
    await deliver(
        wa, fake, hooks.status(result.id, "failed", error=sent.failure, include_contacts=True)
    )

    [status] = received
    assert isinstance(status, MessageStatus) and status.id == result.id
    assert status.status.value == "failed"
    assert isinstance(status.error, wa_errors.MessageUndeliverable)


async def test_wrong_token(fake: FakeGraphApi) -> None:
    wa = fake.client(token="EAAG-wrong")

    with pytest.raises(wa_errors.ExpiredAccessToken) as raised:
        await wa.send_message(to=WA_ID, text="Halo")

    assert (raised.value.code, raised.value.status_code) == (190, 401)
    assert fake.sent == [] and fake.calls == []


async def test_unknown_phone_number_id(fake: FakeGraphApi, wa: WhatsApp) -> None:
    with pytest.raises(wa_errors.WhatsAppError) as raised:
        await wa.send_message(to=WA_ID, text="Halo", sender="999")

    assert (raised.value.code, raised.value.subcode) == (100, 33)


def _buttons(*titles: str) -> list[Button]:
    return [Button(title, f"b{i}") for i, title in enumerate(titles)]


def _list_of(rows: int, title: str = "Baris") -> SectionList:
    return SectionList(
        button_title="Pilih",
        sections=[Section(title="Semua", rows=[SectionRow(title, f"r{i}") for i in range(rows)])],
    )


OVER_LIMIT: dict[str, tuple[Callable[[WhatsApp], Awaitable[Any]], int, str]] = {
    "4 buttons": (
        lambda wa: wa.send_message(to=WA_ID, text="?", buttons=_buttons("A", "B", "C", "D")),
        131009,
        "Max allowed buttons: 3",
    ),
    "button title 21": (
        lambda wa: wa.send_message(to=WA_ID, text="?", buttons=_buttons("x" * 21)),
        131009,
        "Button title length invalid. Min length: 1, Max length: 20",
    ),
    "11 rows": (
        lambda wa: wa.send_message(to=WA_ID, text="?", buttons=_list_of(11)),
        131009,
        "Total row count exceed max allowed count: 10",
    ),
    "row title 25": (
        lambda wa: wa.send_message(to=WA_ID, text="?", buttons=_list_of(1, "y" * 25)),
        131009,
        "Row title length invalid. Min length: 1, Max length: 24",
    ),
    "interactive body 1025": (
        lambda wa: wa.send_message(to=WA_ID, text="z" * 1025, buttons=_buttons("Ok")),
        131009,
        "Max length: 1024",
    ),
    "text 4097": (
        lambda wa: wa.send_message(to=WA_ID, text="t" * 4097),
        100,
        "",
    ),
}


@pytest.mark.parametrize("case", OVER_LIMIT.keys())
async def test_over_limit_messages_are_refused(fake: FakeGraphApi, wa: WhatsApp, case: str) -> None:
    send, code, details = OVER_LIMIT[case]

    with pytest.raises(wa_errors.WhatsAppError) as raised:
        await send(wa)

    assert raised.value.code == code and raised.value.status_code == 400
    assert details in (raised.value.details or "")
    if code == 131009:
        assert isinstance(raised.value, wa_errors.InvalidParameter)
    assert fake.sent == [] and [r.error.code for r in fake.rejected] == [code]


async def test_limits_themselves_are_accepted(fake: FakeGraphApi, wa: WhatsApp) -> None:
    await wa.send_message(to=WA_ID, text="?", buttons=_buttons("1" * 20, "2", "3"))
    await wa.send_message(to=WA_ID, text="b" * 1024, buttons=_list_of(10, "r" * 24))
    await wa.send_message(to=WA_ID, text="t" * 4096)

    assert len(fake.sent) == 3 and fake.rejected == []


# --------------------------------------------------------------------------- webhooks


def test_sign_matches_pywa_validator() -> None:
    body = encode(WebhookBuilder().text("Halo"))
    signature = sign(body, "s3cret")

    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert pywa_utils.webhook_updates_validator("s3cret", body, signature)
    assert not pywa_utils.webhook_updates_validator("other", body, signature)
    assert not pywa_utils.webhook_updates_validator("s3cret", body + b" ", signature)


async def test_client_validator_and_challenge(fake: FakeGraphApi, wa: WhatsApp) -> None:
    body, headers = signed_request(WebhookBuilder().text("Halo"), fake.app_secret)

    assert await wa.webhook_update_validator(body, headers[SIGNATURE_HEADER]) is None
    assert await wa.webhook_update_validator(body, sign(body, "bad")) == ("Forbidden", 403)
    assert await wa.webhook_update_validator(body, None) == ("Unauthorized", 401)
    assert await wa.webhook_challenge_handler(fake.verify_token, "1158201444") == (
        "1158201444",
        200,
    )


async def test_pywa_parses_incoming_messages(
    fake: FakeGraphApi, wa: WhatsApp, hooks: WebhookBuilder
) -> None:
    received = collect_updates(wa)
    photo = fake.add_media(DEFAULT_JPEG, "image/jpeg")
    diploma = fake.add_media(PDF, "application/pdf", "ijazah.pdf")
    payloads = [
        hooks.text("Halo BPS", message_id="wamid.TEXT1", timestamp=1_700_000_000),
        hooks.image(photo, caption="pas foto", content=DEFAULT_JPEG),
        hooks.document(diploma, "ijazah.pdf", "application/pdf", caption="ijazah"),
        hooks.document(photo, "IMG_01.jpg", "image/jpeg"),  # a photo sent "as document"
        hooks.sticker(fake.add_media(b"RIFF....WEBP", "image/webp")),
        hooks.contacts("Budi Santoso", "+62 812-3456-7890", wa_id="6281234567890"),
    ]

    for payload in payloads:
        await deliver(wa, fake, payload)

    text, image, document, photo_doc, sticker, contacts = received
    assert all(isinstance(m, Message) for m in received)
    assert (text.id, text.text, text.timestamp.timestamp()) == ("wamid.TEXT1", "Halo BPS", 1.7e9)
    assert (text.from_user.bsuid, text.from_user.wa_id) == (USER_ID, WA_ID)
    assert text.from_user.name == "Siti Aminah" and text.metadata.phone_number_id == fake.phone_id
    assert (image.image.id, image.caption, image.image.mime_type) == (
        photo,
        "pas foto",
        "image/jpeg",
    )
    assert await image.image.get_bytes() == DEFAULT_JPEG  # GET /{id}, then the URL
    assert (document.document.filename, document.document.mime_type) == (
        "ijazah.pdf",
        "application/pdf",
    )
    assert await document.document.get_bytes() == PDF
    assert photo_doc.type.value == "document" and photo_doc.document.mime_type == "image/jpeg"
    assert sticker.type.value == "sticker" and sticker.sticker.animated is False
    assert contacts.contacts[0].name.formatted_name == "Budi Santoso"
    assert contacts.contacts[0].phones[0].wa_id == "6281234567890"
    assert len({message_id_of(p) for p in payloads}) == len(payloads)


async def test_pywa_parses_button_list_and_template_replies(
    fake: FakeGraphApi, wa: WhatsApp, hooks: WebhookBuilder
) -> None:
    received = collect_updates(wa)
    asked = await wa.send_message(to=WA_ID, text="Setuju?", buttons=_buttons("Ya", "Tidak"))

    await deliver(wa, fake, hooks.button_reply("b0", "Ya", reply_to=asked.id))
    await deliver(wa, fake, hooks.list_reply("kec:1", "Batumarmar", description="12 desa"))
    await deliver(wa, fake, hooks.template_button("reminder:stop", "Berhenti"))

    button, selection, quick_reply = received
    assert isinstance(button, CallbackButton) and (button.data, button.title) == ("b0", "Ya")
    assert button.reply_to_message is not None and button.reply_to_message.id == asked.id
    assert not button.is_quick_reply
    assert isinstance(selection, CallbackSelection)
    assert (selection.data, selection.title, selection.description) == (
        "kec:1",
        "Batumarmar",
        "12 desa",
    )
    assert isinstance(quick_reply, CallbackButton) and quick_reply.is_quick_reply
    assert (quick_reply.data, quick_reply.title) == ("reminder:stop", "Berhenti")
    assert quick_reply.from_user.bsuid == USER_ID


async def test_pywa_parses_statuses(
    fake: FakeGraphApi, wa: WhatsApp, hooks: WebhookBuilder
) -> None:
    received = collect_updates(wa)
    result = await wa.send_message(to=WA_ID, text="Halo")

    for status in ("sent", "delivered", "read"):
        await deliver(wa, fake, hooks.status(result.id, status, category="utility", tracker="t1"))
    await deliver(wa, fake, hooks.status(result.id, "failed", error=131047, include_contacts=True))

    sent, delivered, read, failed = received
    assert all(isinstance(s, MessageStatus) and s.id == result.id for s in received)
    assert [s.status.value for s in received] == ["sent", "delivered", "read", "failed"]
    assert sent.tracker == "t1" and sent.pricing is not None and sent.pricing.billable
    assert delivered.from_user.bsuid == USER_ID and read.from_user.wa_id == WA_ID
    assert isinstance(failed.error, wa_errors.ReEngagementMessage)
    assert failed.error.code == 131047 and failed.error.details


async def test_username_user_without_phone_number(
    fake: FakeGraphApi, wa: WhatsApp, hooks: WebhookBuilder
) -> None:
    received = collect_updates(wa)
    anonymous = Sender(user_id="ID.777000111", wa_id=None, name="Rina", username="@rina")

    payload = hooks.text("Halo", sender=anonymous)
    await deliver(wa, fake, payload)

    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    assert "from" not in message and message["from_user_id"] == "ID.777000111"
    [parsed] = received
    assert (parsed.from_user.bsuid, parsed.from_user.wa_id) == ("ID.777000111", None)
    assert parsed.from_user.username == "@rina"


async def test_pywa_limits_worth_knowing(
    fake: FakeGraphApi, wa: WhatsApp, hooks: WebhookBuilder
) -> None:
    """Pinned pywa 4.x behaviour the bot must not rely on (parse raw payloads instead):
    a failed status without ``contacts`` (Meta's format) cannot be constructed, and only the
    first entry of a batched webhook is dispatched."""
    received = collect_updates(wa)

    await deliver(wa, fake, hooks.status("wamid.OUT1", "failed", error=131026))
    assert received == []

    await deliver(wa, fake, batch(hooks.text("satu"), hooks.text("dua")))
    assert [m.text for m in received] == ["satu"]


def test_builders_have_metas_shape() -> None:
    hooks = WebhookBuilder(phone_id="111", waba_id="222", display_phone_number="62811")

    payload = hooks.image("123", caption="c", timestamp=1_700_000_000)

    assert payload["object"] == "whatsapp_business_account"
    [entry] = payload["entry"]
    [change] = entry["changes"]
    assert entry["id"] == "222" and change["field"] == "messages"
    value = change["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"] == {"display_phone_number": "62811", "phone_number_id": "111"}
    assert value["contacts"][0]["user_id"] and value["contacts"][0]["wa_id"]
    [message] = value["messages"]
    assert message["timestamp"] == "1700000000" and message["id"].startswith("wamid.")
    assert message["image"]["id"] == "123" and message["image"]["caption"] == "c"
    assert b'"url":"http:\\/\\/h\\/x"' in encode(hooks.image("1", url="http://h/x"))
    assert b"\\u00e9" in encode(hooks.text("caf\u00e9"))
    failed = hooks.status("wamid.X", "failed", error=GraphError.from_code(131047))
    status_value = failed["entry"][0]["changes"][0]["value"]
    assert "contacts" not in status_value
    assert status_value["statuses"][0]["errors"][0]["code"] == 131047
