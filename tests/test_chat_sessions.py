"""Chat sessions: the conversation's state is the chat's, not a column set on the applicant."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Connection, inspect, select, text

from core.types import Channel
from handlers.conversation import Conversation
from storage.chat_sessions import ChatSessions
from storage.db import Database, alembic_config
from storage.models import ChatSession
from storage.repositories import Applicants
from tests.chat import Chat

T0 = datetime(2023, 11, 10, 2, 0, tzinfo=UTC)
T1 = datetime(2023, 11, 11, 2, 0, tzinfo=UTC)


async def _migrate(database: Database, revision: str, down: bool = False) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(run)


async def _columns(database: Database, table: str) -> set[str]:
    async with database.engine.connect() as connection:
        names = await connection.run_sync(
            lambda sync: [column["name"] for column in inspect(sync).get_columns(table)]
        )
    return set(names)


async def test_the_migration_moves_each_applicants_step_to_their_chats_and_back(
    any_empty_db: Database,
) -> None:
    db = any_empty_db
    await _migrate(db, "0008")
    applicants = (
        "INSERT INTO applicants (id, created_at, updated_at, language, step, step_data,"
        " eligibility, version) VALUES (:id, :at, :at, :language, :step, :data, '{}', 1)"
    )
    chats = (
        "INSERT INTO chat_identities (channel, external_id, applicant_id, created_at)"
        " VALUES (:channel, :external_id, :applicant, :at)"
    )
    async with db.engine.begin() as connection:
        await connection.execute(
            text(applicants),
            [
                {"id": 1, "at": T0, "language": "en", "step": "field", "data": '{"field": "nik"}'},
                {"id": 2, "at": T1, "language": "id", "step": "menu", "data": "{}"},
            ],
        )
        await connection.execute(
            text(chats),
            [
                {"channel": "telegram", "external_id": "10", "applicant": 1, "at": T0},
                {"channel": "whatsapp", "external_id": "6281", "applicant": 1, "at": T0},
                {"channel": "telegram", "external_id": "20", "applicant": 2, "at": T1},
            ],
        )
    await _migrate(db, "head")
    assert not {"language", "step", "step_data"} & await _columns(db, "applicants")
    async with db.engine.connect() as connection:  # nothing lost to ON DELETE CASCADE
        identities = await connection.execute(text("SELECT COUNT(*) FROM chat_identities"))
        assert identities.scalar_one() == 3
    async with db.transaction() as session:
        rows = (await session.execute(select(ChatSession).order_by(ChatSession.id))).scalars()
        moved = {(s.channel, s.external_id): (s.language, s.step, s.data) for s in rows}
        assert moved == {
            ("telegram", "10"): ("en", "field", {"field": "nik"}),
            ("whatsapp", "6281"): ("en", "field", {"field": "nik"}),  # linked: same place
            ("telegram", "20"): ("id", "menu", {}),
        }
        first = await Applicants(session).get(1)
        assert first is not None and first.language == "en"  # what the bot sends them in
        chat = await ChatSessions(session).of_chat("telegram", "20")
        assert chat is not None
        chat.language, chat.step, chat.updated_at = "en", "sobat_step", T1
        await ChatSessions(session).start("telegram", "900", "id", T1)  # a staff chat
    await _migrate(db, "0008", down=True)
    assert "chat_sessions" not in await _tables(db)
    async with db.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id, language, step, step_data FROM applicants ORDER BY id")
        )
        restored = [(row[0], row[1], row[2], _json(row[3])) for row in rows]
    assert restored == [(1, "en", "field", {"field": "nik"}), (2, "en", "sobat_step", {})]


def _json(value: object) -> object:
    import json

    return json.loads(value) if isinstance(value, str) else value


async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_a_staff_chat_has_a_session_without_being_an_applicant(
    conversation: Conversation,
) -> None:
    staff = Chat(conversation, "900")  # named in settings
    await staff.send("/start")
    await staff.send("/bahasa")
    await staff.send("/status_pendaftaran")
    assert "Applicants stored: 0" in staff.text  # the staff chat is not one
    await staff.send("/siaran")
    await staff.send("Halo {nama}")
    await staff.press("bc:cancel")
    session = await staff.session()
    assert session is not None and session.language == "en" and session.step == "menu"
    assert await staff.applicant() is None


async def test_a_chat_is_written_to_at_the_address_it_wrote_from(any_db: Database) -> None:
    """A WhatsApp staff chat (no identity) is sent to at its noted wa_id within its window;
    an applicant's chat noted only on its identity too; a chat never seen at its own id."""
    async with any_db.transaction() as session:
        sessions, applicants = ChatSessions(session), Applicants(session)
        staff = await sessions.start("whatsapp", "ID.77", "id", T0)
        staff.address, staff.last_inbound_at = "6281700000001", T1
        await applicants.create_for_chat("whatsapp", "ID.55", T0)
        await sessions.start("whatsapp", "ID.55", "id", T0)
        await applicants.touch_identity("whatsapp", "ID.55", T0, "6281500000001", None)
        await session.flush()
        assert await sessions.address_of("whatsapp", "ID.77") == "6281700000001"
        assert await sessions.address_of("whatsapp", "ID.55") == "6281500000001"
        assert await sessions.address_of("whatsapp", "ID.99") == "ID.99"
        assert await sessions.address_of("telegram", "ID.77") == "ID.77"
        assert await sessions.last_inbound_at("whatsapp", "6281700000001") == T1
        assert await sessions.last_inbound_at("whatsapp", "ID.77") == T1
        assert await sessions.last_inbound_at("whatsapp", "6281500000001") == T0
        assert await sessions.last_inbound_at("whatsapp", "6289999999999") is None


async def test_a_staff_chat_becomes_an_applicant_when_it_registers(
    conversation: Conversation,
) -> None:
    staff = Chat(conversation, "900")
    await staff.send("/start")
    await staff.send("/status_pendaftaran")
    assert await staff.applicant() is None
    await staff.press("menu:register")
    assert "Persetujuan" in staff.text
    await staff.press("consent:yes")
    applicant = await staff.applicant()
    assert applicant is not None and applicant.consent_at is not None
    actions = await staff.audit_actions()
    assert actions.count("consent_given") == 1, actions


async def test_deleting_ones_data_forgets_the_chat_session_too(chat: Chat) -> None:
    await chat.start_registration()
    await chat.press("menu:mydata")
    await chat.press("md:delete")
    await chat.press("del:yes")
    assert await chat.applicant() is None and await chat.session() is None
    await chat.send("halo")
    session = await chat.session()
    assert session is not None and session.step == "menu"


async def test_the_chat_a_link_moves_starts_again_at_the_menu(conversation: Conversation) -> None:
    phone = "+6281234567890"
    whatsapp = Chat(conversation, "ID.1349120865530274", channel=Channel.WHATSAPP)
    await whatsapp.send("halo", verified_phone=phone, address=phone[1:])
    await whatsapp.press("menu:register")  # at the consent question, nothing given yet
    assert (await whatsapp.session()).step == "consent"
    telegram = Chat(conversation, "1001")
    await telegram.register()
    await telegram.press("menu:mydata")
    await telegram.press("md:link")
    await telegram.press("link:phone", verified_phone=phone)
    await telegram.press("link:yes")
    assert "Terhubung" in telegram.text
    moved = await whatsapp.session()
    assert moved is not None and (moved.step, moved.data) == ("menu", {})
    applicant = await whatsapp.applicant()
    assert applicant is not None and applicant.registration_number == "PMK24-00001"
