"""Storage on SQLite and PostgreSQL: migrations, repositories, uniqueness under concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.inbound import InboundPayloads
from storage.models import Applicant, Base, ChatIdentity
from storage.repositories import (
    REGISTRATION_CLOSED,
    Applicants,
    Audit,
    Counters,
    Flags,
    ProcessedUpdates,
    Staff,
)

NOW = datetime(2023, 11, 10, 2, 0, tzinfo=UTC)


def _schema_differences(connection: Connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def test_migrations_build_exactly_the_models_schema(any_db: Database) -> None:
    async with any_db.engine.connect() as connection:
        differences = await connection.run_sync(_schema_differences)
    assert differences == []


async def test_upgrade_twice_is_harmless(any_db: Database) -> None:
    await any_db.upgrade()
    async with any_db.transaction() as session:
        assert await Applicants(session).count_all() == 0


async def test_applicant_round_trip_keeps_types(any_db: Database) -> None:
    async with any_db.transaction() as session:
        applicant = await Applicants(session).create_for_chat("telegram", "42", NOW)
        applicant.birth_date = date(1995, 8, 17)
        applicant.eligibility = {"1": True, "2": False}
        applicant.consent_at = NOW
        applicant.experience = False
    async with any_db.transaction() as session:
        loaded = await Applicants(session).by_chat("telegram", "42")
        assert loaded is not None
        assert loaded.birth_date == date(1995, 8, 17)
        assert loaded.eligibility == {"1": True, "2": False}
        assert loaded.consent_at == NOW and loaded.consent_at.tzinfo is not None
        assert loaded.experience is False
        assert await Applicants(session).by_chat("whatsapp", "42") is None


async def test_one_chat_identity_belongs_to_one_applicant(any_db: Database) -> None:
    async with any_db.transaction() as session:
        await Applicants(session).create_for_chat("telegram", "42", NOW)
    with pytest.raises(IntegrityError):
        async with any_db.transaction() as session:
            await Applicants(session).create_for_chat("telegram", "42", NOW)


async def test_concurrent_writers_of_one_applicant_conflict_instead_of_losing_data(
    any_db: Database,
) -> None:
    from sqlalchemy.orm.exc import StaleDataError

    if any_db.is_sqlite:
        pytest.skip("SQLite runs whole transactions one at a time (BEGIN IMMEDIATE)")
    async with any_db.transaction() as session:
        await Applicants(session).create_for_chat("telegram", "42", NOW)

    async def write(name: str, started: asyncio.Event, other_started: asyncio.Event) -> None:
        async with any_db.sessions() as session:
            applicant = await Applicants(session).by_chat("telegram", "42")
            assert applicant is not None
            started.set()
            await other_started.wait()
            applicant.full_name = name
            await session.commit()

    first, second = asyncio.Event(), asyncio.Event()
    results = await asyncio.gather(
        write("A", first, second), write("B", second, first), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 1 and isinstance(failures[0], StaleDataError), failures
    async with any_db.transaction() as session:
        stored = await Applicants(session).by_chat("telegram", "42")
        assert stored is not None and stored.full_name in ("A", "B") and stored.version == 2


async def test_deleting_an_applicant_removes_their_chat_identities(any_db: Database) -> None:
    async with any_db.transaction() as session:
        applicant = await Applicants(session).create_for_chat("telegram", "42", NOW)
    async with any_db.transaction() as session:
        loaded = await Applicants(session).by_chat("telegram", "42")
        assert loaded is not None
        await Applicants(session).delete(loaded)
    async with any_db.transaction() as session:
        assert await session.get(Applicant, applicant.id) is None
        count = await session.execute(select(func.count(ChatIdentity.id)))
        assert count.scalar_one() == 0


async def test_sqlite_transactions_run_one_at_a_time(db: Database) -> None:
    order: list[str] = []

    async def writer(name: str) -> None:
        async with db.transaction() as session:
            order.append(f"{name} in")
            await Applicants(session).create_for_chat("telegram", name, NOW)
            await asyncio.sleep(0.05)
            order.append(f"{name} out")

    await asyncio.gather(writer("a"), writer("b"))
    assert order == ["a in", "a out", "b in", "b out"]


async def test_a_rolled_back_update_is_not_remembered_as_processed(any_db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with any_db.transaction() as session:
            assert await ProcessedUpdates(session).first_time("telegram", "7", NOW)
            raise RuntimeError("the handler failed after recording the update")
    async with any_db.transaction() as session:
        assert await ProcessedUpdates(session).first_time("telegram", "7", NOW) is True


async def test_processed_updates_recognise_a_redelivery(any_db: Database) -> None:
    async with any_db.transaction() as session:
        updates = ProcessedUpdates(session)
        assert await updates.first_time("telegram", "1", NOW) is True
        assert await updates.first_time("telegram", "1", NOW) is False
        assert await updates.first_time("whatsapp", "1", NOW) is True


async def test_counter_never_repeats_under_concurrency(any_db: Database) -> None:
    async def take() -> int:
        async with any_db.transaction() as session:
            return await Counters(session).next("registration")

    numbers = await asyncio.gather(*(take() for _ in range(15)))
    assert sorted(numbers) == list(range(1, 16))


async def test_counter_counts_from_one(any_db: Database) -> None:
    for expected in (1, 2, 3):
        async with any_db.transaction() as session:
            assert await Counters(session).next("registration") == expected


async def test_staff_add_list_remove(any_db: Database) -> None:
    async with any_db.transaction() as session:
        staff = Staff(session)
        assert await staff.add("telegram", "7", "Erfan", "cli:root", NOW) is True
        assert await staff.add("telegram", "7", "Erfan", "cli:root", NOW) is False
        assert await staff.is_staff("telegram", "7")
        assert not await staff.is_staff("whatsapp", "7")
        assert [m.name for m in await staff.all()] == ["Erfan"]
        assert await staff.remove("telegram", "7") is True
        assert not await staff.is_staff("telegram", "7")


async def test_flags_and_audit(any_db: Database) -> None:
    async with any_db.transaction() as session:
        flags = Flags(session)
        assert await flags.get(REGISTRATION_CLOSED) is None
        await flags.set(REGISTRATION_CLOSED, {"closed": True}, "cli:root", NOW)
        await flags.set(REGISTRATION_CLOSED, {"closed": False}, "cli:root", NOW)
        await Audit(session).record("cli:root", "registration_reopened", NOW, detail={"x": 1})
    async with any_db.transaction() as session:
        assert await Flags(session).get(REGISTRATION_CLOSED) == {"closed": False}
        [entry] = await Audit(session).recent()
        assert entry.action == "registration_reopened" and entry.detail == {"x": 1}


async def test_inbound_payloads_are_kept_until_handled_or_given_up(any_db: Database) -> None:
    async with any_db.transaction() as session:
        payloads = InboundPayloads(session)
        kept = await payloads.store("whatsapp", '{"a": 1}', NOW)
        failing = await payloads.store("whatsapp", '{"b": 2}', NOW + timedelta(minutes=5))
        assert await payloads.body(kept) == '{"a": 1}'
        assert await payloads.received_before("whatsapp", NOW, limit=10) == [(kept, '{"a": 1}')]
        assert await payloads.received_before("telegram", NOW, limit=10) == []
    async with any_db.transaction() as session:
        payloads = InboundPayloads(session)
        assert [await payloads.count_failure(failing, give_up_after=3) for _ in range(3)] == [
            False,
            False,
            True,
        ]
        assert await payloads.settle(kept, NOW) is True
    async with any_db.transaction() as session:
        payloads = InboundPayloads(session)
        assert await payloads.body(kept) is None and await payloads.body(failing) is None
        assert await payloads.count_failure(failing, give_up_after=3) is False
        # handled once: settling again says so, the sweep no longer sees it, and the same
        # platform update received again is not stored again
        assert await payloads.settle(kept, NOW) is False
        assert await payloads.received_before("whatsapp", NOW, limit=10) == []
        update = await payloads.store("telegram", "{}", NOW, "77")
        assert update is not None and await payloads.settle(update, NOW) is True
        assert await payloads.store("telegram", "{}", NOW, "77") is None


async def test_a_batch_of_payloads_is_stored_in_one_insert_in_order(any_db: Database) -> None:
    async with any_db.transaction() as session:
        payloads = InboundPayloads(session)
        before = await payloads.store("telegram", '{"u": 2}', NOW, "2")
        batch = [('{"u": 1}', "1"), ('{"u": 2}', "2"), ('{"u": 3}', "3"), ('{"u": 1}', "1")]
        first, again, third, repeated = await payloads.store_all("telegram", batch, NOW)
        assert again is None and repeated is None  # stored before, or earlier in the batch
        assert before is not None and first is not None and third is not None
        assert await payloads.body(first) == '{"u": 1}' and await payloads.body(third) == '{"u": 3}'
        unkeyed = await payloads.store_all("whatsapp", [("a", None), ("b", None)], NOW)
        assert [await payloads.body(stored) for stored in unkeyed if stored] == ["a", "b"]
        mixed = await payloads.store_all("telegram", [("c", None), ("d", "3"), ("e", "4")], NOW)
        assert mixed[1] is None and [await payloads.body(mixed[i] or 0) for i in (0, 2)] == [
            "c",
            "e",
        ]
