"""The database keeps the "only one" rules with constraints, not with a check before an insert:
two chats saving one NIK at once, and the migration that made the NIK unique."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from alembic import command
from sqlalchemy import Connection, MetaData, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.conversation import Conversation
from handlers.flow import Dependencies
from storage.db import Database, alembic_config
from storage.models import Applicant, AuditEntry, RecruitmentFlag, SobatProgress, StageResult
from storage.repositories import REGISTRATION_CLOSED, Applicants, Flags, Staff
from storage.results import Publications, StageResults
from storage.sobat import SobatSteps
from tests.chat import PROFILE_ANSWERS, Chat

NOW = datetime(2023, 11, 10, 2, 0, tzinfo=UTC)
TRIALS = 20
POSTGRESQL = pytest.mark.parametrize("any_db", ["postgresql"], indirect=True)
T = TypeVar("T")


def _nik(serial: int) -> str:
    """A valid NIK (Tlanakan, 17-08-1995, female) with this serial number."""
    return f"352801570895{serial:04d}"


@POSTGRESQL
async def test_two_chats_sending_one_nik_at_once_store_it_once(
    any_db: Database, deps: Dependencies
) -> None:
    conversation = Conversation(any_db, deps)
    for trial in range(TRIALS):
        nik = _nik(trial + 1)
        chats = [Chat(conversation, f"trial-{trial}-{side}") for side in "ab"]
        for chat in chats:
            await chat.start_registration()
            await chat.pass_eligibility()
            await chat.fill_profile(PROFILE_ANSWERS[:1])
        await asyncio.gather(
            *(chat.send(nik, dedup_key=f"{trial}-{n}") for n, chat in enumerate(chats))
        )
        async with any_db.transaction() as session:
            holders = await session.scalar(select(func.count()).where(Applicant.nik == nik))
        assert holders == 1, f"trial {trial}: the NIK is stored on {holders} applicants"
        refused = [chat for chat in chats if "sudah dipakai" in chat.text]
        assert len(refused) == 1, [chat.text for chat in chats]
        (loser,) = refused
        (winner,) = [chat for chat in chats if chat is not loser]
        assert "tempat lahir" in winner.text
        stored = await loser.applicant()
        assert stored is not None and stored.nik is None
        chat_session = await loser.session()
        assert chat_session is not None and chat_session.data.get("field") == "nik", "asked again"
        assert await loser.send(nik, dedup_key=f"{trial}-{chats.index(loser)}") == []
        await loser.send(_nik(trial + 101))
        assert "tempat lahir" in loser.text


async def test_a_nik_is_claimed_once_and_a_refusal_keeps_the_rest_of_the_transaction(
    any_db: Database,
) -> None:
    async with any_db.transaction() as session:
        first = await Applicants(session).create_for_chat("telegram", "1", NOW)
        assert await Applicants(session).claim_nik(first, _nik(1))
        assert await Applicants(session).claim_nik(first, _nik(1)), "one's own NIK again"
    async with any_db.transaction() as session:
        second = await Applicants(session).create_for_chat("telegram", "2", NOW)
        second.full_name = "Siti Aminah"
        assert not await Applicants(session).claim_nik(second, _nik(1))
        assert second.nik is None
        second.email = "siti@example.com"
    async with any_db.transaction() as session:
        stored = await Applicants(session).by_chat("telegram", "2")
        assert stored is not None and stored.nik is None
        assert (stored.full_name, stored.email) == ("Siti Aminah", "siti@example.com")


async def test_the_database_refuses_a_second_applicant_with_one_nik(any_db: Database) -> None:
    async with any_db.transaction() as session:
        first = await Applicants(session).create_for_chat("telegram", "1", NOW)
        first.nik = _nik(1)
    with pytest.raises(IntegrityError):
        async with any_db.transaction() as session:
            second = await Applicants(session).create_for_chat("telegram", "2", NOW)
            second.nik = _nik(1)


def _downgrade_below_unique_nik(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0010-1")


def _add_applicants(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Rows as an older schema holds them (only the columns it has)."""
    table = MetaData()
    table.reflect(connection, only=["applicants"])
    applicants = table.tables["applicants"]
    base = {
        "created_at": NOW,
        "updated_at": NOW,
        "language": "id",
        "step": "menu",
        "step_data": {},
        "eligibility": {},
        "version": 1,
        "nik_check_ack": None,
        "registration_number": None,
        "nik": None,
    }
    values = [{**base, **row} for row in rows]
    connection.execute(
        insert(applicants), [{k: v for k, v in row.items() if k in applicants.c} for row in values]
    )


async def _before_unique_nik(database: Database, rows: list[dict[str, Any]]) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(_downgrade_below_unique_nik)
        await connection.run_sync(_add_applicants, rows)


async def _ids_by_name(database: Database) -> dict[str, int]:
    async with database.transaction() as session:
        return dict((await session.execute(select(Applicant.full_name, Applicant.id))).all())


async def test_the_migration_keeps_a_shared_nik_with_one_holder_and_logs_the_others(
    any_db: Database,
) -> None:
    shared, alone, twice = _nik(1), _nik(2), _nik(3)
    await _before_unique_nik(
        any_db,
        [
            {"full_name": "a", "nik": shared, "nik_check_ack": f"{shared}|x|P"},
            {"full_name": "b", "nik": shared, "registration_number": "PMK24-00001"},
            {"full_name": "c", "nik": shared},
            {"full_name": "d", "nik": alone},
            {"full_name": "e", "nik": twice},
            {"full_name": "f", "nik": twice},
            {"full_name": "g", "nik": None},
            {"full_name": "h", "nik": None},
        ],
    )
    await any_db.upgrade()
    ids = await _ids_by_name(any_db)
    names = {applicant_id: name for name, applicant_id in ids.items()}
    async with any_db.transaction() as session:
        niks = dict((await session.execute(select(Applicant.full_name, Applicant.nik))).all())
        acks = await session.scalars(
            select(Applicant.nik_check_ack).where(Applicant.nik_check_ack.is_not(None))
        )
        audit = (
            await session.execute(
                select(AuditEntry.applicant_id, AuditEntry.action, AuditEntry.detail)
            )
        ).all()
    assert niks == {
        "a": None,
        "b": shared,
        "c": None,
        "d": alone,
        "e": twice,
        "f": None,
        "g": None,
        "h": None,
    }
    assert list(acks) == []
    cleared = {(names[applicant], names[detail["kept_by"]]) for applicant, _, detail in audit}
    assert cleared == {("a", "b"), ("c", "b"), ("f", "e")}
    assert len(audit) == 3 and {action for _, action, _ in audit} == {"nik_cleared_duplicate"}
    async with any_db.transaction() as session:
        stray = await Applicants(session).create_for_chat("telegram", "9", NOW)
        assert not await Applicants(session).claim_nik(stray, shared)


async def test_the_migration_refuses_two_confirmed_registrations_with_one_nik(
    any_db: Database,
) -> None:
    shared = _nik(1)
    await _before_unique_nik(
        any_db,
        [
            {"full_name": "a", "nik": shared, "registration_number": "PMK24-00001"},
            {"full_name": "b", "nik": shared, "registration_number": "PMK24-00002"},
            {"full_name": "c", "nik": shared},
        ],
    )
    ids = await _ids_by_name(any_db)
    confirmed = f"{ids['a']}, {ids['b']}"
    with pytest.raises(RuntimeError, match=rf"confirmed registrations share a NIK .*{confirmed}\)"):
        await any_db.upgrade()
    async with any_db.transaction() as session:
        niks = (await session.scalars(select(Applicant.nik))).all()
    assert niks == [shared, shared, shared], "nothing was changed"


async def _twice_at_once(
    database: Database, write: Callable[[AsyncSession], Awaitable[T]]
) -> list[T]:
    """`write` in two transactions that have both begun before either writes (PostgreSQL runs
    them side by side; the first to insert makes the other wait for its commit)."""
    began = [asyncio.Event(), asyncio.Event()]

    async def one(me: int) -> T:
        async with database.transaction() as session:
            await session.scalar(select(func.count(Applicant.id)))
            began[me].set()
            await began[1 - me].wait()
            return await write(session)

    return await asyncio.gather(one(0), one(1))


async def _count(database: Database, model: type[Any]) -> int:
    async with database.transaction() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def _race_every_only_one_rule(database: Database, applicant_id: int, key: str) -> None:
    """Two transactions at once adding a staff member, publishing a stage, recording a first
    result, a SOBAT step and a flag, all under the same key."""

    async def result(session: AsyncSession) -> None:
        await StageResults(session).record(
            applicant_id, key, "passed", None, "cli:test", NOW, "cli", existing=None
        )

    added = await _twice_at_once(
        database, lambda session: Staff(session).add("telegram", key, "Ani", "cli:test", NOW)
    )
    assert sorted(added) == [False, True]
    marked = await _twice_at_once(
        database, lambda session: Publications(session).mark(key, "cli:test", NOW)
    )
    assert sorted(marked) == [False, True]
    await _twice_at_once(database, result)
    await _twice_at_once(
        database, lambda session: SobatSteps(session).set(applicant_id, key, "done", NOW)
    )
    await _twice_at_once(
        database, lambda session: Flags(session).set(key, {"on": True}, "cli:test", NOW)
    )


@POSTGRESQL
async def test_the_other_only_one_rules_hold_when_two_write_at_once(any_db: Database) -> None:
    async with any_db.transaction() as session:
        applicant = await Applicants(session).create_for_chat("telegram", "1", NOW)
    for trial in range(5):
        await _race_every_only_one_rule(any_db, applicant.id, f"{trial}")
    assert await _count(any_db, StageResult) == 5
    assert await _count(any_db, SobatProgress) == 5
    assert await _count(any_db, RecruitmentFlag) == 5


async def test_a_flag_set_again_reads_back_in_the_same_transaction(any_db: Database) -> None:
    async with any_db.transaction() as session:
        flags = Flags(session)
        await flags.set(REGISTRATION_CLOSED, {"at": "a"}, "ani", NOW)
        assert await flags.get(REGISTRATION_CLOSED) == {"at": "a"}
        await flags.set(REGISTRATION_CLOSED, {"at": "b"}, "budi", NOW)
        assert await flags.get(REGISTRATION_CLOSED) == {"at": "b"}
    async with any_db.transaction() as session:
        assert await Flags(session).get(REGISTRATION_CLOSED) == {"at": "b"}
    assert await _count(any_db, RecruitmentFlag) == 1
