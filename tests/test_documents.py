"""Documents: every kind of good and bad file, albums, replacing, deleting, staff access."""

from __future__ import annotations

import asyncio
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from core.clock import FrozenClock
from core.recruitment import RecruitmentConfig
from core.types import FileKind, Incoming, IncomingFile
from core.validation import Invalid
from handlers.conversation import Conversation
from services.document_check import check_document
from storage.files import FileStore
from tests import images
from tests.chat import Chat


def _stored_files(store: FileStore) -> list[Path]:
    return [path for path in store.root.rglob("*") if path.is_file()] if store.root.exists() else []


@pytest.mark.parametrize(
    ("key", "make", "code"),
    [
        ("ktp", images.blurred_ktp, "doc_blurry"),
        ("ktp", images.dark_ktp, "doc_too_dark"),
        ("ktp", images.tiny_ktp, "doc_too_small"),
        ("ktp", images.truncated_jpeg, "doc_truncated"),
        ("ktp", images.png_bomb, "doc_too_many_pixels"),
        ("ktp", images.text_file_named_jpg, "doc_type"),
        ("ktp", images.pdf, "doc_pdf_not_accepted"),
        ("diploma", images.encrypted_pdf, "doc_pdf_encrypted"),
        ("diploma", lambda: images.pdf()[:-40], "doc_truncated"),
        ("diploma", lambda: images.pdf(pages=11), "doc_pdf_pages"),
        ("photo", lambda: b"", "doc_empty"),
    ],
)
def test_bad_files_are_refused_with_their_reason(
    config: RecruitmentConfig, key: str, make: object, code: str
) -> None:
    document = config.document_by_key(key)
    assert document is not None and callable(make)
    with pytest.raises(Invalid) as refusal:
        check_document(make(), document, config.document_limits)
    assert refusal.value.code == code


@pytest.mark.parametrize(
    ("key", "make", "mime_type"),
    [
        ("photo", images.good_photo, "image/jpeg"),
        ("ktp", images.good_ktp, "image/jpeg"),
        ("ktp", lambda: images.png(images._document_picture(1280, 800)), "image/png"),
        ("diploma", images.good_diploma, "image/jpeg"),
        ("diploma", images.pdf, "application/pdf"),
        ("diploma", lambda: images.pdf(pages=3), "application/pdf"),
        ("diploma", images.four_megapixel_photo, "image/jpeg"),
    ],
)
def test_good_files_pass(config: RecruitmentConfig, key: str, make: object, mime_type: str) -> None:
    document = config.document_by_key(key)
    assert document is not None and callable(make)
    assert check_document(make(), document, config.document_limits).mime_type == mime_type


def test_the_size_limit_comes_from_the_config(config: RecruitmentConfig) -> None:
    limits = config.document_limits.model_copy(update={"max_bytes": 50_000})
    document = config.document_by_key("ktp")
    assert document is not None
    with pytest.raises(Invalid) as refusal:
        check_document(images.four_megapixel_photo(), document, limits)
    assert refusal.value.code == "doc_too_large" and refusal.value.params == {"max_mb": 0}


async def _at_documents(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile()


async def test_documents_are_asked_one_at_a_time_with_a_checklist(chat: Chat) -> None:
    await _at_documents(chat)
    assert (
        "Dokumen (0 dari 3 sudah masuk)" in chat.text
        and "Sekarang kirim: Foto terbaru" in chat.text
    )
    await chat.send_file(images.good_photo())
    assert "✅ Foto terbaru diterima." in chat.text
    assert "✅ Foto terbaru\n⬜ Kartu Tanda Penduduk (KTP)" in chat.text
    await chat.send_file(images.good_ktp(), kind=FileKind.DOCUMENT, mime_type="image/jpeg")
    assert "✅ Kartu Tanda Penduduk (KTP) diterima." in chat.text  # a photo sent "as a file"
    await chat.send_file(images.pdf(pages=2), kind=FileKind.DOCUMENT, mime_type="application/pdf")
    assert "Ringkasan" in chat.text and "sum:confirm" in chat.buttons
    applicant = await chat.applicant()
    assert applicant is not None
    assert "document_received" in await chat.audit_actions()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (images.blurred_ktp, "terlalu buram"),
        (images.dark_ktp, "terlalu gelap"),
        (images.tiny_ktp, "320×200 piksel"),
        (images.truncated_jpeg, "tidak utuh"),
        (images.png_bomb, "terlalu besar untuk diproses"),
        (images.text_file_named_jpg, "Jenis file itu tidak bisa dipakai"),
        (images.pdf, "harus berupa foto"),
    ],
)
async def test_a_bad_ktp_is_refused_and_nothing_is_stored(
    chat: Chat, file_store: FileStore, make: object, expected: str
) -> None:
    await _at_documents(chat)
    await chat.send_file(images.good_photo())
    before = _stored_files(file_store)
    assert callable(make)
    await chat.send_file(
        make(), kind=FileKind.DOCUMENT, file_name="foto.jpg", mime_type="image/jpeg"
    )
    assert expected in chat.text, chat.text
    assert "Silakan kirim ulang: Kartu Tanda Penduduk (KTP)." in chat.text
    assert _stored_files(file_store) == before
    applicant = await chat.applicant()
    assert applicant is not None and [d.kind for d in applicant.documents] == ["photo"]
    assert (await chat.session()).data["doc"] == "ktp"


async def test_a_file_over_the_limit_is_refused_without_downloading(chat: Chat) -> None:
    await _at_documents(chat)
    huge = IncomingFile(kind=FileKind.DOCUMENT, file_id="big", size=30 * 1024 * 1024)
    await chat.upload(huge)
    assert "File terlalu besar (paling besar 20 MB)" in chat.text
    assert chat.files.fetched == []


async def test_a_failed_download_asks_to_send_again(chat: Chat) -> None:
    await _at_documents(chat)
    await chat.upload(IncomingFile(kind=FileKind.PHOTO, file_id="gone"))
    assert "tidak berhasil diunduh" in chat.text


async def test_text_stickers_and_voice_at_the_documents_step(chat: Chat) -> None:
    await _at_documents(chat)
    await chat.send("ini foto saya")
    assert "mohon kirim foto atau file dokumen" in chat.text
    await chat.upload(IncomingFile(kind=FileKind.STICKER, file_id="s"))
    assert "Stiker, suara, atau video tidak bisa dipakai" in chat.text
    await chat.upload(IncomingFile(kind=FileKind.AUDIO, file_id="v"))
    assert "Stiker, suara, atau video" in chat.text


async def test_an_album_is_one_answer_not_three(chat: Chat) -> None:
    await _at_documents(chat)
    contents = [images.good_photo(), images.good_ktp(), images.good_diploma()]
    for n, content in enumerate(contents):
        chat.files.contents[f"album-{n}"] = content
    answers = await asyncio.gather(
        *(chat.conversation.handle(chat_incoming(chat, f"album-{n}"), chat.files) for n in range(3))
    )
    answered = [answer.replies for answer in answers if answer.replies]
    assert len(answered) == 1
    text = "\n".join(reply.text for reply in answered[0])
    assert "hanya foto pertama yang dipakai" in text
    applicant = await chat.applicant()
    assert applicant is not None and [d.kind for d in applicant.documents] == ["photo"]
    assert (await chat.session()).data["doc"] == "ktp"
    await chat.send_file(images.good_ktp())  # the next picture on its own is taken
    assert "Kartu Tanda Penduduk (KTP) diterima" in chat.text


def chat_incoming(chat: Chat, file_id: str) -> Incoming:
    file = IncomingFile(kind=FileKind.PHOTO, file_id=file_id, media_group_id="album-1")
    return Incoming(channel=chat.channel, user_id=chat.user_id, file=file)


async def test_send_later_then_summary_cannot_be_submitted(chat: Chat) -> None:
    await _at_documents(chat)
    await chat.press("doc:later")
    assert "Dokumen belum lengkap" in chat.text
    assert "sum:confirm" not in chat.buttons and chat.buttons[0] == "menu:documents"
    await chat.press("sum:confirm")  # a forged or old button
    applicant = await chat.applicant()
    assert applicant is not None and applicant.registration_number is None
    await chat.press("menu:documents")
    assert "Sekarang kirim: Foto terbaru" in chat.text


async def test_replacing_a_document_keeps_an_audit_row_and_drops_the_old_file(
    chat: Chat, file_store: FileStore
) -> None:
    await chat.register()
    applicant = await chat.applicant()
    assert applicant is not None
    old_ktp = next(d for d in applicant.documents if d.kind == "ktp")
    await chat.send("/berkas")
    assert "Semua dokumen sudah masuk" in chat.text
    replace_ktp = next(b for b in chat.replies[-1].buttons if b.id == "doc:replace:ktp")
    # The full name on the button; a short title where space is short (WhatsApp rows).
    assert (replace_ktp.label, replace_ktp.title) == (
        "Ganti Kartu Tanda Penduduk (KTP)",
        "Ganti KTP",
    )
    await chat.press("doc:replace:ktp")
    new_ktp = images.png(images._document_picture(1400, 880, seed=9))
    await chat.send_file(new_ktp)
    assert "Semua dokumen lengkap. Nomor registrasi Anda: PMK24-00001" in chat.text
    applicant = await chat.applicant()
    assert applicant is not None
    ktp = next(d for d in applicant.documents if d.kind == "ktp")
    assert ktp.mime_type == "image/png" and file_store.read(ktp.path) == new_ktp
    assert not file_store.path(old_ktp.path).exists()
    assert len(_stored_files(file_store)) == 3
    assert "document_replaced" in await chat.audit_actions()


async def test_stored_files_are_named_by_hash_and_private(
    chat: Chat, file_store: FileStore
) -> None:
    await chat.register()
    stored = _stored_files(file_store)
    assert len(stored) == 3
    for path in stored:
        assert len(path.stem) == 64 and path.parent.name == path.stem[:2]
        assert path.stat().st_mode & 0o077 == 0
        assert path.parent.stat().st_mode & 0o077 == 0


async def test_deleting_my_data_deletes_the_files(chat: Chat, file_store: FileStore) -> None:
    await chat.register()
    assert len(_stored_files(file_store)) == 3
    await chat.press("menu:mydata")
    assert "✅ Ijazah tertinggi" in chat.text
    await chat.press("md:delete")
    await chat.press("del:yes")
    assert _stored_files(file_store) == []


async def test_documents_are_closed_with_registration(chat: Chat, clock: FrozenClock) -> None:
    await _at_documents(chat)
    clock.set(datetime(2023, 12, 1, 8, 0))
    await chat.send_file(images.good_photo())
    assert "sudah ditutup" in chat.text
    applicant = await chat.applicant()
    assert applicant is not None and applicant.documents == []


async def test_staff_fetch_documents_and_the_access_is_logged(conversation: Conversation) -> None:
    applicant = Chat(conversation, "1001")
    await applicant.register()
    outsider = Chat(conversation, "1002")
    await outsider.send("/start")
    await outsider.send("/dokumen PMK24-00001")
    assert "khusus untuk petugas BPS" in outsider.text
    assert not [reply for reply in outsider.replies if reply.files]
    staff = Chat(conversation, "900")
    await staff.send("/start")
    await staff.send("/dokumen")
    assert "Cara pakai" in staff.text
    await staff.send("/dokumen PMK24-99999")
    assert "Tidak ada pendaftar" in staff.text
    await staff.send("/dokumen pmk24-00001")
    files = [file for reply in staff.replies for file in reply.files]
    assert [file.file_name for file in files] == [
        "PMK24-00001_photo.jpg",
        "PMK24-00001_ktp.jpg",
        "PMK24-00001_diploma.jpg",
    ]
    assert conversation.deps.files.read(files[1].path) == images.good_ktp()
    actions = await staff.audit_actions()
    assert actions.count("documents_viewed") == 1 and "staff_command_refused" in actions


def test_export_writes_a_folder_or_a_zip(tmp_path: Path) -> None:
    from storage.files import write_export

    source = tmp_path / "a.jpg"
    source.write_bytes(b"\xff\xd8\xffdata")
    write_export(tmp_path / "out", [("PMK24-00001_ktp.jpg", source)])
    assert (tmp_path / "out" / "PMK24-00001_ktp.jpg").read_bytes() == source.read_bytes()
    write_export(tmp_path / "out.zip", [("PMK24-00001_ktp.jpg", source)])
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert archive.read("PMK24-00001_ktp.jpg") == source.read_bytes()
