"""Reminders: the right applicants, the right text, once, on time in WIB, and never when stopped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select
from telegram import Bot

from core.catalog import Catalog
from core.clock import FrozenClock
from core.recruitment import Event, LocalText, RecruitmentConfig
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from scheduler.delivery import ChannelLimits, DeliveryWorker
from scheduler.jobs import Jobs
from services.broadcasts import Audience, schedule_broadcast
from services.schedule import describe_jobs
from storage.db import Database
from storage.models import OutboxMessage
from tests.chat import PROFILE_ANSWERS, Chat, jobs_of
from tests.fakes.telegram_api import FakeBotApi
from tests.seeding import seed_applicants

D7 = datetime(2023, 11, 23, 9, 0)  # 7 days before the 30 November deadline, at 09:00 WIB


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.transaction() as session:
        rows = await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(rows.scalars())


async def _people(conversation: Conversation) -> dict[str, Chat]:
    """A mix: halfway, only consented, only said hello, declined consent, ineligible, stopped
    reminders, and registered."""
    halfway = Chat(conversation, "101")
    await halfway.start_registration()
    await halfway.pass_eligibility()
    await halfway.fill_profile(PROFILE_ANSWERS[:3])  # name, NIK, birth place
    consented = Chat(conversation, "106")
    await consented.start_registration()
    hello = Chat(conversation, "102")
    await hello.send("/start")
    declined = Chat(conversation, "107")
    await declined.send("/start")
    await declined.press("menu:register")
    await declined.press("consent:no")
    ineligible = Chat(conversation, "103")
    await ineligible.start_registration()
    await ineligible.press("elig:unmet")
    stopped = Chat(conversation, "104")
    await stopped.start_registration()
    await stopped.send("/berhenti")
    assert "tidak akan mengirim pengingat lagi" in stopped.text
    registered = await seed_applicants(conversation.db, 1, conversation.deps.clock.now())
    return {
        "halfway": halfway,
        "consented": consented,
        "hello": hello,
        "declined": declined,
        "ineligible": ineligible,
        "stopped": stopped,
        "registered": Chat(conversation, registered[0]),
    }


def _jobs(conversation: Conversation, config: RecruitmentConfig | None = None) -> Jobs:
    return jobs_of(conversation, config)


async def test_a_deadline_reminder_reaches_the_unfinished_and_says_what_is_missing(
    conversation: Conversation, clock: FrozenClock
) -> None:
    people = await _people(conversation)
    clock.set(D7)
    assert await _jobs(conversation).run("reminder:registration:7") == 2
    rows = {row.recipient: row for row in await _outbox(conversation.db)}
    assert set(rows) == {people["halfway"].user_id, people["consented"].user_id}
    halfway = rows[people["halfway"].user_id].text
    assert "pendaftaran ditutup 30 November 2023, 23.59 WIB (7 hari lagi)" in halfway
    assert "• Tanggal lahir" in halfway and "• Nomor HP" in halfway
    assert "• Kartu Tanda Penduduk (KTP)" in halfway
    assert "Nama lengkap" not in halfway and "NIK" not in halfway.split("kurang:")[1]
    assert "• pertanyaan persyaratan" in rows[people["consented"].user_id].text
    assert [b["id"] for b in rows[people["halfway"].user_id].buttons] == [
        "menu:register",
        "remind:stop",
    ]


async def test_a_second_run_a_restart_and_two_schedulers_send_nothing_more(
    any_db: Database, deps: Dependencies, clock: FrozenClock
) -> None:
    conversation = Conversation(any_db, deps)
    await _people(conversation)
    clock.set(D7)
    assert await _jobs(conversation).run("reminder:registration:7") == 2
    assert await _jobs(conversation).run("reminder:registration:7") == 0  # a restart
    again = await asyncio.gather(
        *(_jobs(conversation).run("reminder:registration:7") for _ in range(2))
    )
    assert again == [0, 0]
    clock.set(D7 + timedelta(days=4))  # the D-3 reminder is a different one
    first = await asyncio.gather(
        *(_jobs(conversation).run("reminder:registration:3") for _ in range(2))
    )
    assert sorted(first) == [0, 2]
    assert len(await _outbox(any_db)) == 4


async def test_pressing_stop_under_a_reminder_stops_the_next_ones(
    conversation: Conversation, clock: FrozenClock
) -> None:
    people = await _people(conversation)
    clock.set(D7)
    await _jobs(conversation).run("reminder:registration:7")
    await people["halfway"].press("remind:stop")
    assert "tidak akan mengirim pengingat lagi" in people["halfway"].text
    await people["stopped"].send("/ingatkan")
    assert "Pengingat dinyalakan lagi" in people["stopped"].text
    clock.set(D7 + timedelta(days=4))
    await _jobs(conversation).run("reminder:registration:3")
    latest = [row.recipient for row in await _outbox(conversation.db)][2:]
    assert sorted(latest) == sorted([people["consented"].user_id, people["stopped"].user_id])
    assert "reminders_stopped" in await people["halfway"].audit_actions()


async def test_a_reminder_whose_moment_passed_while_down_is_skipped(
    conversation: Conversation, clock: FrozenClock
) -> None:
    await _people(conversation)
    jobs = _jobs(conversation)
    clock.set(D7 - timedelta(minutes=1))
    assert await jobs.run("reminder:registration:7") == 0  # not yet
    clock.set(D7 + timedelta(hours=5, minutes=59))
    assert await jobs.run("reminder:registration:7") == 2  # late, within the grace
    clock.set(datetime(2023, 11, 29, 9, 0))  # the last day: no "3 days left" now
    assert await jobs.run("reminder:registration:3") == 0
    assert await jobs.run("reminder:registration:1") == 2
    assert all("(besok)" in row.text for row in (await _outbox(conversation.db))[2:])


async def test_no_deadline_reminder_once_staff_closed_registration(
    conversation: Conversation, clock: FrozenClock
) -> None:
    await _people(conversation)
    staff = Chat(conversation, "900")
    await staff.send("/start")
    await staff.send("/tutup_pendaftaran kuota terpenuhi")
    clock.set(D7)
    assert await _jobs(conversation).run("reminder:registration:7") == 0


async def test_reminders_are_computed_in_wib_from_a_utc_clock(
    conversation: Conversation, config: RecruitmentConfig, catalog: Catalog
) -> None:
    await _people(conversation)
    utc = FrozenClock(datetime(2023, 11, 23, 1, 59, tzinfo=UTC), tz=UTC)  # 08:59 WIB
    jobs = jobs_of(conversation, config, utc)
    assert await jobs.run("reminder:registration:7") == 0
    utc.set(datetime(2023, 11, 23, 2, 0, tzinfo=UTC))  # 09:00 WIB
    assert await jobs.run("reminder:registration:7") == 2
    (row, _) = await _outbox(conversation.db)
    assert "(7 hari lagi)" in row.text


async def test_reminders_set_at_night_wait_for_the_morning(
    conversation: Conversation, config: RecruitmentConfig, clock: FrozenClock
) -> None:
    await _people(conversation)
    late = config.model_copy(
        update={"reminders": config.reminders.model_copy(update={"send_at": time(22, 0)})}
    )
    clock.set(D7.replace(hour=22))
    assert await _jobs(conversation, late).run("reminder:registration:7") == 2
    assert {row.not_before for row in await _outbox(conversation.db)} == {
        (D7 + timedelta(days=1)).replace(hour=6).replace(tzinfo=config.tz)
    }


async def test_the_silent_are_nudged_once(conversation: Conversation, clock: FrozenClock) -> None:
    people = await _people(conversation)
    jobs = _jobs(conversation)
    clock.advance(timedelta(days=2, hours=23))
    assert await jobs.run("silent") == 0  # not silent long enough
    clock.advance(timedelta(hours=2))
    # consented and silent 3 days: halfway, consented and stopped (who stopped reminders)
    assert await jobs.run("silent") == 2
    rows = await _outbox(conversation.db)
    assert {row.recipient for row in rows} == {
        people["halfway"].user_id,
        people["consented"].user_id,
    }
    assert "sudah beberapa hari tidak dilanjutkan" in rows[0].text
    clock.advance(timedelta(days=5))
    assert await jobs.run("silent") == 0


async def test_an_event_reminder_reaches_only_those_it_concerns(
    conversation: Conversation, config: RecruitmentConfig, clock: FrozenClock
) -> None:
    from tests.seeding import seeded_number
    from tests.test_results import _csv, _import  # the same file a staff member would send

    await seed_applicants(conversation.db, 2, clock.now())
    await _import(
        conversation.db,
        config,
        "1",
        _csv(f"{seeded_number(1)};;Lulus;", f"{seeded_number(2)};;TL;"),
        clock.now(),
    )
    test_day = Event(
        key="tes_kompetensi",
        at=datetime(2023, 12, 4, 8, 0),
        audience="passed:1",
        remind_days_before=[1],
        text=LocalText(id="Tes Kompetensi di Kantor BPS Kab. Pamekasan. Bawa KTP."),
    )
    with_event = config.model_copy(update={"events": [test_day]})
    clock.set(datetime(2023, 12, 3, 9, 0))
    assert await _jobs(conversation, with_event).run("reminder:event:tes_kompetensi:1") == 1
    (row,) = await _outbox(conversation.db)
    assert "Tes Kompetensi di Kantor BPS" in row.text
    assert "4 Desember 2023, 08.00 WIB (besok)" in row.text


async def test_a_scheduled_broadcast_goes_out_at_its_moment_once(
    conversation: Conversation, clock: FrozenClock
) -> None:
    await _people(conversation)
    send_at = D7.replace(hour=8).replace(tzinfo=clock.tz)
    async with conversation.db.transaction() as session:
        await schedule_broadcast(
            session,
            text="Halo {nama}, pendaftaran ditutup 30 November.",
            audience=Audience("incomplete"),
            send_at=send_at,
            created_by="cli:tester",
            now=clock.now(),
        )
    jobs = _jobs(conversation)
    clock.set(send_at - timedelta(seconds=1))
    assert await jobs.run("scheduled_broadcasts") == 0
    late = Chat(conversation, "105")  # joins before the moment: part of the audience then
    await late.start_registration()
    clock.set(send_at)
    assert await jobs.run("scheduled_broadcasts") == 5
    assert await jobs.run("scheduled_broadcasts") == 0


async def test_staff_see_upcoming_jobs_and_their_reach(
    conversation: Conversation, clock: FrozenClock
) -> None:
    await _people(conversation)
    staff = Chat(conversation, "900")
    await staff.send("/start")
    await staff.send("/jadwal_kirim")
    assert "23 November 2023, 09.00 WIB · Pengingat pendaftaran H-7 · menjangkau 2 orang" in (
        staff.text
    )
    assert "15 Desember 2023, 00.00 WIB · Pengumuman hasil akhir" in staff.text
    assert "Menolak pengingat: 1 orang" in staff.text
    applicant = Chat(conversation, "102")
    await applicant.send("/jadwal_kirim")
    assert "khusus untuk petugas BPS" in applicant.text
    async with conversation.db.transaction() as session:
        deps = conversation.deps
        text = await describe_jobs(
            session, deps.config, deps.catalog, clock.now(), "en", deps.staff_identities
        )
    assert "Registration reminder D-7 · reaches 2 people" in text


@pytest.fixture
async def fake() -> FakeBotApi:
    async with FakeBotApi() as server:
        yield server


async def test_a_reminder_arrives_on_telegram_with_its_buttons(
    conversation: Conversation, clock: FrozenClock, fake: FakeBotApi
) -> None:
    people = await _people(conversation)
    for chat in people.values():
        fake.add_user(int(chat.user_id))
    clock.set(D7)
    await _jobs(conversation).run("reminder:registration:7")
    from bot.telegram import TelegramSender

    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with bot:
        deps = conversation.deps
        worker = DeliveryWorker(
            conversation.db,
            {"telegram": TelegramSender(bot)},
            {"telegram": ChannelLimits(rate=100, per_chat=100)},
            clock,
            deps.config.quiet_hours,
            deps.files,
        )
        await worker.drain_once()
    (message,) = fake.messages_to(int(people["halfway"].user_id))
    assert message.callback_data == ["menu:register", "remind:stop"]
    assert "⏰ Pengingat" in message.text
