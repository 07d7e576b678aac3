"""The conversation's entry point: one incoming message in, replies out, one unit of work."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from core.callbacks import MenuButton, MenuItem, QuestionButton, RemindButton
from core.catalog import DEFAULT_LANGUAGE
from core.failures import log_failure
from core.observer import ACCEPTED
from core.types import Channel, FileSource, Incoming, Reply
from handlers.applicant.menu import help_text, open_menu_item, show_page, switch_language
from handlers.applicant.questions import answer_typed, on_question_button
from handlers.applicant.reminder_prefs import resume_reminders, stop_reminders
from handlers.applicant.resume import say_registration_closed
from handlers.flow import ApplicantNeeded, Dependencies, Expects, StepName, Turn, match_button
from handlers.staff.commands import STAFF_COMMANDS, run_staff_command
from handlers.staff.rights import is_staff
from handlers.steps import FLOW, in_registration, spec_of
from services.faq import is_question
from services.uploads import (
    ACCEPTED_KINDS,
    TableUpload,
    Upload,
    prepare_attachment,
    prepare_table,
    prepare_upload,
)
from services.window import window_at
from storage.chat_sessions import ChatSessions
from storage.db import Database
from storage.files import forget_unreferenced
from storage.inbound import InboundPayloads
from storage.models import OutboxMessage
from storage.outbox import FORGET, Outbox
from storage.repositories import REGISTRATION_CLOSED, Applicants, ProcessedUpdates

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 1000
ATTEMPTS = 3
CONCURRENT_CHECKS = 4
COMMAND_ALIASES = {
    "start": "start",
    "mulai": "start",
    "menu": "menu",
    "batal": "cancel",
    "cancel": "cancel",
    "bantuan": "help",
    "help": "help",
    "bahasa": "language",
    "language": "language",
    "datasaya": "mydata",
    "mydata": "mydata",
    "daftar": "register",
    "register": "register",
    "berkas": "documents",
    "documents": "documents",
    "status": "status",
    "cekstatus": "status",
    "berhenti": "stop_reminders",
    "stop": "stop_reminders",
    "ingatkan": "resume_reminders",
    "remind": "resume_reminders",
}


ONLY_FOR_REGISTRATION = frozenset({"start", "menu", "home", "cancel", "register", "documents"})
"""Commands and menu items that mean 'go on registering' (or only show the menu again)."""


def _command_name(text: str) -> tuple[str, str, str]:
    """A typed command split up: (as typed, its name without @botname and case, argument)."""
    word, _, argument = text[1:].partition(" ")
    return word, word.split("@", 1)[0].casefold(), argument


def _still_allowed(choice: str | None, text: str) -> bool:
    """A command or menu button asking for something other than going on registering."""
    if text.startswith("/"):
        name = _command_name(text)[1]
        command = COMMAND_ALIASES.get(name)
        allowed = command is not None and command not in ONLY_FOR_REGISTRATION
        return allowed or name in STAFF_COMMANDS
    menu = MenuButton.unpack(choice)
    if menu is not None:
        return menu.item not in ONLY_FOR_REGISTRATION
    return RemindButton.unpack(choice) is not None


@dataclass
class Answered:
    """What a turn said: its replies, and (when it was to send them) their outbox rows, claimed
    by the sending process in the turn's own transaction, in order."""

    replies: list[Reply]
    queued: list[OutboxMessage] = field(default_factory=list)


def reply_rows(
    replies: Sequence[Reply], incoming: Incoming, applicant_id: int | None
) -> list[dict[str, Any]]:
    """A turn's replies as outbox rows to the chat it answers, in order: each reply's text (with
    its buttons), then each of its files (with its caption). Urgent: quiet hours do not hold
    an answer to someone who just wrote."""
    turn_key = uuid.uuid4().hex
    common = {
        "channel": incoming.channel.value,
        "recipient": incoming.address or incoming.user_id,
        "applicant_id": applicant_id,
        "urgent": True,
    }
    rows: list[dict[str, Any]] = []
    for reply in replies:
        if reply.text or reply.buttons:
            buttons = [button.model_dump(exclude_defaults=True) for button in reply.buttons]
            rows.append(
                {**common, "text": reply.text, "buttons": buttons or None, "track": reply.track}
            )
        for file in reply.files:
            rows.append(
                {
                    **common,
                    "text": file.caption,
                    "file_path": file.path,
                    "file_name": file.file_name,
                    "file_mime_type": file.mime_type,
                }
            )
    for number, row in enumerate(rows):
        row["dedup_key"] = f"turn:{turn_key}:{number}"
    return rows


class Conversation:
    """Answers one incoming message at a time; all state lives in the database."""

    def __init__(self, db: Database, deps: Dependencies) -> None:
        self.db = db
        self.deps = deps
        self.checks = asyncio.Semaphore(CONCURRENT_CHECKS)

    async def handle(
        self,
        incoming: Incoming,
        files: FileSource | None = None,
        *,
        send_as: str | None = None,
        inbound_id: int | None = None,
    ) -> Answered:
        """Validate, save and answer one message. Commits before returning; never raises.

        A concurrent change to the same chat or applicant (two messages at once, two
        processes) is retried; a re-delivered update (same `dedup_key`) gets no reply at all. A
        file is fetched from `files`, checked and stored before the transaction, when a document
        is due. With `send_as` (the sending process's claim name) the replies are written to the
        outbox in the turn's transaction, claimed by it, for it to send at once (`queued`);
        `inbound_id` (the stored payload this message came in) is marked handled in that same
        transaction: handled and answered, or neither.
        """
        try:
            upload = await self._prepare_upload(incoming, files)
            answered = await self._answer(incoming, upload, send_as, inbound_id)
            if answered is None:
                return Answered([])
            turn, queued = answered
            self._count_check(upload)
            stored = isinstance(upload, Upload) and upload.path and not turn.upload_saved
            unused = [upload.path] if stored else []
            await forget_unreferenced(self.db, self.deps.files, turn.files_to_forget + unused)
            if turn.deleted:
                await self.db.forget_history()
            return Answered(turn.replies, queued)
        except Exception:
            log_failure(log, "error while handling a %s message", incoming.channel.value)
        return await self._apologise(incoming, send_as, inbound_id)

    def _count_check(self, upload: Upload | TableUpload | None) -> None:
        """Tell the observer about a checked document, once its turn is saved (a turn run again
        after a conflict, or a re-delivered update, counts nothing more)."""
        if not isinstance(upload, Upload) or self.deps.config.document_by_key(upload.key) is None:
            return  # no file, a results table or a broadcast attachment
        verdict = ACCEPTED if upload.refusal is None else upload.refusal.code
        self.deps.observer.document_checked(upload.key, verdict)

    async def _apologise(
        self, incoming: Incoming, send_as: str | None, inbound_id: int | None
    ) -> Answered:
        """The answer when handling failed (nothing of the turn was saved): an apology, which
        settles the stored update as the turn would have (so a message that breaks the turn
        is not tried again and again). If even that cannot be saved, the update stays stored
        for the sweep."""
        language = "en" if (incoming.language_hint or "").startswith("en") else DEFAULT_LANGUAGE
        replies = [Reply(text=self.deps.catalog.text(language, "internal_error"))]
        if send_as is None and inbound_id is None:
            return Answered(replies)
        try:
            async with self.db.transaction() as session:
                if inbound_id is not None:
                    await InboundPayloads(session).settle(inbound_id, self.deps.clock.now())
                if send_as is None:
                    return Answered(replies)
                queued = await Outbox(session).enqueue_claimed(
                    reply_rows(replies, incoming, None), send_as, self.deps.clock.now()
                )
        except Exception:
            log_failure(log, "could not save the apology either")
            return Answered(replies)
        return Answered(replies, queued)

    async def _answer(
        self,
        incoming: Incoming,
        upload: Upload | TableUpload | None,
        send_as: str | None,
        inbound_id: int | None,
    ) -> tuple[Turn, list[OutboxMessage]] | None:
        """Answer in one transaction, run again on a concurrent change (up to `ATTEMPTS` times)
        and once as an applicant's when a chat that speaks for none needed one."""
        as_applicant = False
        conflicts = 0
        while True:
            try:
                async with self.db.transaction() as session:
                    turn = await self._handle(session, incoming, upload, as_applicant, inbound_id)
                    if turn is None:
                        return None
                    if send_as is None:
                        return turn, []
                    return turn, await self._queue(session, turn, send_as)
            except ApplicantNeeded:
                if as_applicant:
                    raise
                as_applicant = True
            except (StaleDataError, IntegrityError):
                conflicts += 1
                if conflicts == ATTEMPTS:
                    raise

    async def _prepare_upload(
        self, incoming: Incoming, files: FileSource | None
    ) -> Upload | TableUpload | None:
        """Fetch and check a file now (outside any transaction) if the chat's step awaits one."""
        file = incoming.file
        if file is None or files is None or file.kind not in ACCEPTED_KINDS:
            return None
        async with self.db.transaction() as session:
            chat = await ChatSessions(session).of_chat(incoming.channel.value, incoming.user_id)
        if chat is None:
            return None
        limits = self.deps.config.document_limits
        expects = spec_of(chat).expects
        if expects is Expects.ATTACHMENT:
            return await prepare_attachment(file, limits, files, self.deps.files)
        if expects is Expects.RESULTS_TABLE:
            return await prepare_table(file, files, self.deps.clock.now().date())
        if expects is not Expects.DOCUMENT:
            return None
        key = chat.data.get("doc")
        document = self.deps.config.document_by_key(key) if key else None
        album = chat.data.get("album")
        if document is None or (file.media_group_id and file.media_group_id == album):
            return None
        return await prepare_upload(file, document, limits, files, self.deps.files, self.checks)

    async def _queue(self, session: AsyncSession, turn: Turn, send_as: str) -> list[OutboxMessage]:
        """The turn's replies into the outbox, claimed by `send_as` as of now (the end of the
        turn, not its start: the lease counts from here). The chat's applicant, if any is left
        after the turn, owns them: deleting their data deletes them too."""
        applicant = None if turn.deleted else turn.known_applicant
        rows = reply_rows(turn.replies, turn.incoming, applicant.id if applicant else None)
        if turn.deleted:  # the answer to a deletion: gone once sent, recipient and all
            rows = [{**row, "track": FORGET} for row in rows]
        return await Outbox(session).enqueue_claimed(rows, send_as, self.deps.clock.now())

    async def _handle(
        self,
        session: AsyncSession,
        incoming: Incoming,
        upload: Upload | TableUpload | None,
        as_applicant: bool,
        inbound_id: int | None,
    ) -> Turn | None:
        """Answer within one transaction; None for a re-delivered update: its stored copy
        (`inbound_id`) handled already, or its `dedup_key` seen already. The stored copy is
        marked handled in this transaction: handled and answered, or neither.

        Every chat has a session; a chat speaks for an applicant from its first message, except
        a staff chat, which becomes one only when a turn of it needs an applicant's data
        (`as_applicant`): staff commands and staff flows create no applicant.
        """
        now = self.deps.clock.now()
        channel = incoming.channel.value
        if inbound_id is not None and not await InboundPayloads(session).settle(inbound_id, now):
            return None
        if incoming.dedup_key is not None and not await ProcessedUpdates(session).first_time(
            channel, incoming.dedup_key, now
        ):
            return None
        chats, applicants = ChatSessions(session), Applicants(session)
        state = await chats.state_of(channel, incoming.user_id, REGISTRATION_CLOSED)
        if state is not None:
            chat, applicant = state.chat, state.applicant
            window = window_at(self.deps.config, state.flag, now)
        else:
            language = "en" if (incoming.language_hint or "").startswith("en") else "id"
            chat = await chats.start(channel, incoming.user_id, language, now)
            applicant, window = await applicants.by_chat(channel, incoming.user_id), None
        turn = Turn(chat, applicant, session, self.deps, incoming, now, FLOW, window=window)
        if applicant is None and (as_applicant or not await is_staff(turn)):
            turn.known_applicant = await applicants.create_for_chat(channel, incoming.user_id, now)
        if incoming.channel is Channel.WHATSAPP:
            chat.address, chat.last_inbound_at = incoming.address or chat.address, now
            await applicants.touch_identity(
                channel, incoming.user_id, now, incoming.address, incoming.verified_phone
            )
        if isinstance(upload, TableUpload):
            turn.table = upload
        else:
            turn.upload = upload
        if not await turn.step.on_any(turn):
            await self._dispatch(turn)
        if not turn.deleted:
            turn.chat.updated_at = now
            if turn.known_applicant is not None:
                turn.known_applicant.updated_at = now
        await session.flush()
        return turn

    async def _dispatch(self, turn: Turn) -> None:
        incoming = turn.incoming
        text = (incoming.text or "").strip()
        if await self._registration_closed_under(turn, text):
            return
        if len(text) > MAX_TEXT_LENGTH:
            turn.say(turn.t("too_long", length=len(text), limit=MAX_TEXT_LENGTH))
            await turn.reprompt()
        elif text.startswith("/"):
            await self._command(turn, text)
        elif incoming.choice:
            await self._choice(turn, incoming.choice)
        elif text:
            await self._text(turn, text)
        elif incoming.file is not None:
            await turn.step.on_file(turn)
        else:
            turn.say(turn.t("not_understood"))
            await turn.reprompt()

    async def _text(self, turn: Turn, text: str) -> None:
        """Typed text: an answer for free-text steps, otherwise the button it names; a question
        (where the step allows them) is answered, and the step's question asked again."""
        step = turn.step
        questions = spec_of(turn.chat).questions
        if step.free_text:
            asked = questions and is_question(text) and not await step.reads_as_answer(turn, text)
            if not (asked and await answer_typed(turn, text)):
                await step.on_text(turn, text)
            return
        choice = match_button(text, (await step.prompt(turn)).buttons)
        if choice is not None:
            await self._choice(turn, choice)
        elif not (questions and await answer_typed(turn, text)):
            await step.on_text(turn, text)

    async def _choice(self, turn: Turn, choice: str) -> None:
        menu = MenuButton.unpack(choice)
        question = QuestionButton.unpack(choice)
        if menu is not None:
            await open_menu_item(turn, menu.item)
        elif question is not None:
            await on_question_button(turn, question)
        elif RemindButton.unpack(choice) is not None:
            await stop_reminders(turn)
        else:
            await turn.step.on_choice(turn, choice)

    async def _registration_closed_under(self, turn: Turn, text: str) -> bool:
        """Registration closed (or is not open yet) under an applicant in the middle of it.

        Whatever they send first, they are told so and what they can still do, and leave the
        registration step: never the next question followed by a refusal. True when that is
        the whole answer; False when the message is still to be handled: registration is
        open, or it asks for something still possible (data, status, help, staff commands),
        which is then answered from the menu after the notice.
        """
        if not in_registration(turn.chat, turn.known_applicant):
            return False
        window = await turn.registration_window()
        if window.is_open:
            return False
        say_registration_closed(turn, window)
        if _still_allowed(turn.incoming.choice, text):
            turn.move(StepName.MENU)
            return False
        await turn.goto(StepName.MENU)
        return True

    async def _command(self, turn: Turn, text: str) -> None:
        word, name, argument = _command_name(text)
        command = COMMAND_ALIASES.get(name)
        if command == "start":
            turn.say(turn.t("welcome_back"))
            await turn.reprompt()
        elif command == "menu":
            await turn.goto(StepName.MENU)
        elif command == "cancel":
            await self._cancel(turn)
        elif command == "help":
            turn.say(help_text(turn))
            await turn.reprompt()
        elif command == "language":
            await switch_language(turn)
        elif command == "stop_reminders":
            await stop_reminders(turn)
        elif command == "resume_reminders":
            await resume_reminders(turn)
        elif command in ("mydata", "register", "documents", "status"):
            await open_menu_item(turn, MenuItem(command))
        elif name in STAFF_COMMANDS:
            await run_staff_command(turn, name, argument.strip())
        else:
            turn.say(turn.t("unknown_command", command=f"/{word[:32]}"))
            await turn.reprompt()

    async def _cancel(self, turn: Turn) -> None:
        """/batal: what the table says for this step (its `cancel_edit` while one answer is
        being changed), or that there is nothing to cancel."""
        spec = spec_of(turn.chat)
        editing = spec.cancel_edit is not None and turn.chat.data.get("edit")
        cancel = spec.cancel_edit if editing else spec.cancel
        if cancel is None:
            await show_page(turn, turn.t("nothing_to_cancel"))
            return
        turn.say(turn.t(cancel.text))
        await turn.goto(cancel.to)
