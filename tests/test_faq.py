"""Typed questions: the labelled set meets the thresholds; questions are answered anywhere,
offered or handed over; staff answer through the outbox; ordinary answers stay answers."""

from __future__ import annotations

from sqlalchemy import select

from core.recruitment import RecruitmentConfig
from handlers.conversation import Conversation
from services.faq import Verdict, chat_words, faq_index, topics_of
from services.questions import Learned, learn_phrasing
from storage.models import OutboxMessage, Question
from tests.chat import ELIGIBLE_CHOICES, Chat
from tests.faq_set import HANDOVER, ORDINARY, QUESTIONS

MIN_ACCURACY = 0.95
"""Of the questions the bot answers, the share answered with the right topic."""
MAX_WRONG = 0.05
"""Of all labelled questions, the share answered with a wrong topic (worse than a handover)."""
MAX_FALSE_QUESTIONS = 0.02
"""Of the ordinary answers, the share taken for a question."""
MIN_ANSWERED = 0.5
"""Of the labelled questions, the share answered at once (not offered, not handed over)."""


def test_the_labelled_set_meets_the_thresholds(config: RecruitmentConfig) -> None:
    index = faq_index(config)
    readings = [(index.read(text), label) for text, label in QUESTIONS]
    answered = [
        (reading, label) for reading, label in readings if reading.verdict is Verdict.ANSWER
    ]
    wrong = [
        text
        for (reading, label), (text, _) in zip(readings, QUESTIONS, strict=True)
        if reading.verdict is Verdict.ANSWER and reading.topics[0] != label
    ]
    taken = [text for text in ORDINARY if index.read(text).verdict is not Verdict.NONE]
    assert len(QUESTIONS) >= 150 and len(ORDINARY) >= 100
    assert (len(answered) - len(wrong)) / len(answered) >= MIN_ACCURACY, wrong
    assert len(wrong) / len(QUESTIONS) < MAX_WRONG, wrong
    assert len(answered) / len(QUESTIONS) >= MIN_ANSWERED
    assert len(taken) / len(ORDINARY) < MAX_FALSE_QUESTIONS, taken
    # Where the recruitment file has no answer the bot never answers for sure.
    unanswerable = [text for text, label in QUESTIONS if label == HANDOVER]
    guessed = [text for text in unanswerable if index.read(text).verdict is Verdict.ANSWER]
    assert len(guessed) <= 1, guessed


def test_the_issues_own_examples_are_answered_by_general_rules(config: RecruitmentConfig) -> None:
    # Neither sentence is a phrasing of the config: "ktp" is what people type for "kartu tanda
    # penduduk", "registrasi" is "daftar", and "verifikasi" / "konfirmasi" an account's "aktivasi".
    index = faq_index(config)
    for text, topic in [
        ("foto ktp harus asli?", "berkas"),
        ("sy udah daftar di sobat tp blm ada email aktivasi", "aktivasi_email"),
    ]:
        assert not any(text in faq_text for faq_text in _texts(config)), text
        reading = index.read(text)
        assert (reading.verdict, reading.topics) == (Verdict.ANSWER, (topic,)), text
    assert chat_words("Foto Kartu Tanda Penduduk, verif email") == [
        "foto",
        "ktp",
        "aktivasi",
        "email",
    ]


def _texts(config: RecruitmentConfig) -> list[str]:
    return [text.casefold() for topic in topics_of(config) for text in topic.texts]


def test_every_label_is_a_topic_of_the_config(config: RecruitmentConfig) -> None:
    keys = {topic.key for topic in topics_of(config)}
    assert {label for _, label in QUESTIONS} - {HANDOVER} <= keys
    # Sections A to I of the announcement are all answerable.
    sections = {faq.section[0] for faq in config.faq if faq.section}
    assert sections == set("ABCDEFGHI")


async def _to_menu(chat: Chat) -> None:
    await chat.send("/start")


async def test_a_question_at_the_menu_is_answered_from_the_schedule(chat: Chat) -> None:
    await _to_menu(chat)
    await chat.send("min, kapan pengumumannya?")
    assert "Pengumuman hasil: 15 Desember 2023" in chat.replies[0].text
    assert "menu:register" in chat.buttons  # the menu again


async def test_a_question_at_a_button_step_is_answered_and_the_step_asked_again(
    chat: Chat,
) -> None:
    await chat.start_registration()
    await chat.send("ijazah boleh pdf gak min")
    assert "Ijazah tertinggi" in chat.replies[0].text and "PDF" in chat.replies[0].text
    assert "(1 dari 8)" in chat.replies[-1].text
    await chat.send("hmm")  # not a question: the usual answer
    assert "belum mengerti" in chat.replies[0].text


async def test_a_name_step_takes_names_and_answers_questions(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.send("lulusan smp bisa daftar ga?")
    assert "bukan syarat wajib" in chat.replies[0].text
    assert chat.replies[-1].text == "Tulis nama lengkap Anda sesuai KTP."
    assert (await chat.applicant()).full_name is None  # type: ignore[union-attr]
    await chat.send("Siti Aminah")
    assert (await chat.applicant()).full_name == "Siti Aminah"  # type: ignore[union-attr]


async def test_an_address_with_a_question_mark_is_a_question(chat: Chat) -> None:
    await chat.start_registration()
    await chat.pass_eligibility()
    for answer in ("Siti Aminah", "3528015708950003", "Pamekasan", "17-08-1995"):
        await chat.send(answer)
    await chat.press("f:sex:P")
    await chat.send("ijazah boleh pdf gak min?")
    assert "hasil pindai (PDF)" in chat.text
    assert (await chat.applicant()).address is None  # type: ignore[union-attr]
    await chat.send("Dusun Krajan RT 02 RW 01, Desa Tlanakan")
    assert (await chat.applicant()).address == "Dusun Krajan RT 02 RW 01, Desa Tlanakan"  # type: ignore[union-attr]


async def _staff_rows(conversation: Conversation) -> list[OutboxMessage]:
    async with conversation.db.transaction() as session:
        return list(
            (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        )


async def test_a_question_without_an_answer_goes_to_staff_and_back(
    chat: Chat, conversation: Conversation
) -> None:
    await chat.start_registration()
    await chat.send("gajinya brp min?")
    assert "tidak mau menebak" in chat.replies[0].text
    assert chat.replies[0].buttons[-1].id == "q:staff"
    assert "(1 dari 8)" in chat.replies[-1].text
    await chat.press("q:staff")
    assert "Pertanyaan #1 sudah diteruskan" in chat.replies[0].text
    assert "(1 dari 8)" in chat.replies[-1].text
    await chat.press("q:staff")  # pressed again: nothing is asked twice
    assert "sudah tidak berlaku" in chat.replies[0].text
    [notice] = await _staff_rows(conversation)
    assert (notice.channel, notice.recipient) == ("telegram", "900")
    assert "gajinya brp min?" in notice.text and "/jawab 1" in notice.text

    outsider = Chat(conversation, user_id="1002")
    await outsider.send("/start")
    await outsider.send("/jawab 1 Coba saya")
    assert "khusus untuk petugas" in outsider.text
    staff = Chat(conversation, user_id="900")
    await staff.send("/start")
    await staff.send("/pertanyaan")
    assert "#1" in staff.text and "gajinya brp min?" in staff.text
    await staff.send("/jawab 1 Honor mengikuti kegiatan; petugas akan menjelaskannya.")
    assert "dikirim ke penanya" in staff.text
    answer = (await _staff_rows(conversation))[-1]
    assert (answer.channel, answer.recipient) == ("telegram", "1001")
    assert "Jawaban petugas BPS untuk pertanyaan #1" in answer.text
    assert "Honor mengikuti kegiatan" in answer.text
    async with conversation.db.transaction() as session:
        question = await session.get(Question, 1)
    assert question is not None and question.state == "answered"
    assert "question_handed_over" in await chat.audit_actions()


async def test_a_middle_band_question_offers_two_topics(chat: Chat) -> None:
    await _to_menu(chat)
    await chat.send("apa cukup daftar lewat wa ini aja?")
    offered = chat.replies[0].buttons
    assert chat.replies[0].text.startswith("Saya belum yakin")
    assert [button.id.split(":")[1] for button in offered] == ["topic", "topic", "staff"]
    assert all(len(button.title or "") <= 20 for button in offered)
    await chat.press("q:topic:bot_cukup")
    assert "Pendaftaran resmi tetap di portal SOBAT" in chat.replies[0].text
    await chat.press("q:topic:no_such_topic")
    assert "sudah tidak berlaku" in chat.replies[0].text


async def test_english_questions_get_english_answers(chat: Chat) -> None:
    await _to_menu(chat)
    await chat.send("/language")
    await chat.send("must I have a bachelor degree?")
    await chat.send("is registering in this chat enough?")
    assert "The official registration is on the SOBAT portal" in chat.replies[0].text


async def test_a_sobat_report_is_never_taken_for_a_question(chat: Chat) -> None:
    await chat.register()
    await chat.press("sb:path:new")
    await chat.press("sb:email:same")
    await chat.press("sb:stuck")
    await chat.press("sb:report")
    await chat.send("kenapa email aktivasi tidak masuk?")
    assert "Laporan #1" in chat.text


async def test_staff_teach_a_phrasing_and_the_bot_answers_it(
    chat: Chat, conversation: Conversation, config: RecruitmentConfig
) -> None:
    await _to_menu(chat)
    await chat.send("ngurus sobat ribet, ada yg bantuin ngisi?")
    await chat.press("q:staff")
    deps = conversation.deps
    async with conversation.db.transaction() as session:
        taught = await learn_phrasing(
            session, config, 1, "cara_daftar", "cli:ani", deps.clock.now()
        )
        again = await learn_phrasing(session, config, 1, "cara_daftar", "cli:ani", deps.clock.now())
        unknown = await learn_phrasing(session, config, 1, "gaji", "cli:ani", deps.clock.now())
    assert (taught, again, unknown) == (Learned.ADDED, Learned.KNOWN, Learned.NO_TOPIC)
    await chat.send("ngurus sobat ribet, ada yg bantuin ngisi?")
    assert "Cara mendaftar" in chat.replies[0].text


async def test_eligibility_answers_typed_are_still_answers(chat: Chat) -> None:
    await chat.start_registration()
    await chat.send("Bukan ASN")
    await chat.send("ya")
    assert "(3 dari 8)" in chat.replies[-1].text
    assert len(ELIGIBLE_CHOICES) == 8
