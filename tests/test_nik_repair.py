"""Repairing a birth date or sex the NIK disagrees with: ask that field, then go on from where
the applicant was (the next unanswered question, or the summary when editing)."""

from __future__ import annotations

from tests.chat import PROFILE_ANSWERS, Chat

NIK_MISMATCH = "tidak cocok dengan NIK"
ASK_ADDRESS = "Tulis alamat tempat tinggal Anda"


def _with(answer_at: int, answer: tuple[str, str]) -> list[tuple[str, str]]:
    """The profile answers up to the sex, one of them replaced."""
    answers = list(PROFILE_ANSWERS[:5])
    answers[answer_at] = answer
    return answers


async def test_fixing_the_birth_date_in_a_first_registration_goes_on_to_the_address(
    chat: Chat,
) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile(_with(3, ("text", "18-08-1995")))
    assert NIK_MISMATCH in chat.text and "nik:fix_date" in chat.buttons
    await chat.press("nik:fix_date")
    assert "Tulis tanggal lahir" in chat.text and "Isian saat ini: 18 Agustus 1995" in chat.text
    await chat.send("17-08-1995")
    assert ASK_ADDRESS in chat.text and "Ringkasan" not in chat.text
    session = await chat.session()
    assert session is not None and session.data == {"field": "address"}


async def test_fixing_the_sex_in_a_first_registration_goes_on_to_the_address(
    chat: Chat,
) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile(_with(4, ("choice", "f:sex:L")))
    assert NIK_MISMATCH in chat.text and "nik:fix_sex" in chat.buttons
    await chat.press("nik:fix_sex")
    assert "Pilih jenis kelamin" in chat.text
    await chat.press("f:sex:P")
    assert ASK_ADDRESS in chat.text and "Ringkasan" not in chat.text


async def test_a_repair_that_still_disagrees_asks_again(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile(_with(3, ("text", "18-08-1995")))
    await chat.press("nik:fix_date")
    await chat.send("19-08-1995")
    assert NIK_MISMATCH in chat.text and ASK_ADDRESS not in chat.text


async def test_fixing_the_birth_date_while_editing_returns_to_the_summary(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile()
    await chat.hand_in_documents()
    assert "Ringkasan data Anda" in chat.text
    await chat.press("sum:edit")
    await chat.press("edit:birth_date")
    await chat.send("18-08-1995")
    assert NIK_MISMATCH in chat.text
    await chat.press("nik:fix_date")
    await chat.send("17-08-1995")
    assert "✏️ Diubah - Tanggal lahir: 18 Agustus 1995" in chat.text  # what changed, no "-" fields
    assert "→ 17 Agustus 1995" in chat.text and ": -" not in chat.text
    assert "sum:confirm" in chat.buttons


async def test_fixing_the_birth_date_for_a_guardian_goes_on_to_the_next_question(
    chat: Chat,
) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile(_with(3, ("text", "17-08-2007"))[:4])  # 16 years old
    assert "orang tua atau wali" in chat.text
    await chat.press("guard:fix")
    await chat.send("17-08-1995")
    assert "Pilih jenis kelamin" in chat.text and "Ringkasan" not in chat.text
