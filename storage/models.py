"""Typed SQLAlchemy 2 models: every piece of state that must survive a restart."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    column_property,
    mapped_column,
    relationship,
)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, date: Date, dict[str, Any]: JSON}  # noqa: RUF012


class ChatSession(Base):
    """The conversation with one chat account: the step it is at, what that step keeps, and
    its language. Every chat that wrote has one, a staff chat too, without being an applicant;
    the applicant a chat speaks for (if any) is found through its `ChatIdentity`."""

    __tablename__ = "chat_sessions"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(2), default="id")
    step: Mapped[str] = mapped_column(String(32), default="new")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the current step keeps (the field being asked, a broadcast draft, ...)."""
    address: Mapped[str | None] = mapped_column(String(32))
    """Where to send when it differs from the id: a WhatsApp user's phone number (wa_id). Noted
    on every message, with `last_inbound_at`, for a staff chat too (it has no `ChatIdentity`)."""
    last_inbound_at: Mapped[datetime | None]
    """When the chat last wrote (WhatsApp's 24-hour window)."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Applicant(Base):
    """One person's registration: consent, answers, documents' owner, outcome.

    `language` (read-only) is the language of the applicant's chat that wrote last: what the
    bot sends on its own (results, reminders, staff answers) is written in it.
    """

    __tablename__ = "applicants"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    consent_at: Mapped[datetime | None]
    consent_version: Mapped[str | None] = mapped_column(String(64))
    guardian_consent_at: Mapped[datetime | None]
    eligibility: Mapped[dict[str, Any]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), default=dict
    )
    """{required item number: answered yes}; JSONB on PostgreSQL (one `@>` test per row)."""

    full_name: Mapped[str | None] = mapped_column(String(80))
    nik: Mapped[str | None] = mapped_column(String(16), index=True, unique=True)
    """One per applicant: a unique index, so two chats saving the same NIK at once cannot both
    keep it (deleting one's data erases the row, so no deleted row holds a NIK)."""
    birth_place: Mapped[str | None] = mapped_column(String(60))
    birth_date: Mapped[date | None]
    sex: Mapped[str | None] = mapped_column(String(1))
    address: Mapped[str | None] = mapped_column(String(300))
    kecamatan: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    education: Mapped[str | None] = mapped_column(String(32))
    experience: Mapped[bool | None]
    gadget: Mapped[bool | None]
    motorbike: Mapped[bool | None]
    nik_check_ack: Mapped[str | None] = mapped_column(String(64))
    """The (NIK, birth date, sex) the applicant confirmed despite a mismatch, if any."""

    registration_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    confirmed_at: Mapped[datetime | None]
    reminders_off_at: Mapped[datetime | None]
    """Set when the applicant stopped reminders (/berhenti)."""
    sobat_path: Mapped[str | None] = mapped_column(String(16))
    """new (no SOBAT account yet) or existing, as the applicant answered."""
    sobat_email: Mapped[str | None] = mapped_column(String(254), index=True)
    """The e-mail of the SOBAT account, to match SOBAT's exports."""
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    identities: Mapped[list[ChatIdentity]] = relationship(
        back_populates="applicant", cascade="all, delete-orphan", passive_deletes=True
    )
    documents: Mapped[list[DocumentFile]] = relationship(
        back_populates="applicant", cascade="all, delete-orphan", passive_deletes=True
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ChatIdentity(Base):
    """A chat account (channel + platform user id) that speaks for an applicant."""

    __tablename__ = "chat_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    applicant_id: Mapped[int] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    address: Mapped[str | None] = mapped_column(String(32))
    """Where to send when it differs from the id: a WhatsApp user's phone number (wa_id)."""
    verified_phone: Mapped[str | None] = mapped_column(String(16), index=True)
    """A phone number the platform vouches for (WhatsApp; Telegram's shared own contact)."""
    last_inbound_at: Mapped[datetime | None]
    """When the user last wrote (WhatsApp's 24-hour window)."""

    applicant: Mapped[Applicant] = relationship(back_populates="identities")


def chat_address() -> ColumnElement[str]:
    """Where to send to a chat identity: its address (a wa_id) when set, else its id."""
    return func.coalesce(ChatIdentity.address, ChatIdentity.external_id)


def _applicant_language() -> ColumnElement[str]:
    """The language of the applicant's chat that wrote last (Indonesian when none has)."""
    identity = ChatIdentity.__table__.alias("language_chat")
    latest = (
        select(ChatSession.language)
        .join(
            identity,
            (identity.c.channel == ChatSession.channel)
            & (identity.c.external_id == ChatSession.external_id),
        )
        .where(identity.c.applicant_id == Applicant.id)
        .order_by(ChatSession.updated_at.desc(), ChatSession.id.desc())
        .limit(1)
        .correlate_except(ChatSession.__table__, identity)
        .scalar_subquery()
    )
    return func.coalesce(latest, "id")


Applicant.language = column_property(_applicant_language())  # type: ignore[attr-defined]


class DocumentFile(Base):
    """The current file for one of an applicant's documents (photo, KTP, diploma)."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("applicant_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_id: Mapped[int] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(String(128))
    """Relative to the private file store; named by content hash, never by the user."""
    mime_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
    resend_requested_at: Mapped[datetime | None]
    """Set when staff asked the applicant to send this document again; the new file replaces
    the row (and so clears it)."""
    resend_reason: Mapped[str | None] = mapped_column(String(300))
    """Why staff asked again, as the applicant reads it."""

    applicant: Mapped[Applicant] = relationship(back_populates="documents")

    @property
    def needs_resend(self) -> bool:
        """Staff asked for this document again and the applicant has not sent it yet."""
        return self.resend_requested_at is not None


class Broadcast(Base):
    """A message staff send to an audience; its recipients are rows of the outbox."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    file_path: Mapped[str | None] = mapped_column(String(128))
    file_name: Mapped[str | None] = mapped_column(String(128))
    file_mime_type: Mapped[str | None] = mapped_column(String(64))
    audience: Mapped[dict[str, Any]]
    urgent: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    """queued (rows waiting or sending), done, cancelled."""
    total: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None]
    progress_channel: Mapped[str | None] = mapped_column(String(16))
    progress_chat: Mapped[str | None] = mapped_column(String(128))
    progress_message_id: Mapped[str | None] = mapped_column(String(64))
    """Where the live progress message is (edited by the delivery worker)."""


class OutboxMessage(Base):
    """One message to one recipient, sent by a delivery worker within the platform's limits.

    States: queued → sending → sent | failed | unreachable | cancelled. A row stuck in
    `sending` past its lease (the worker died) is claimed again: the only possible repeat. Only
    the holder of the current claim (`claimed_by` and `claim_token`) may record the outcome.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "not_before"),
        Index("ix_outbox_platform_message_id", "platform_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(160), unique=True)
    """e.g. broadcast:12:applicant:34 — enqueuing the same thing twice is a no-op."""
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )
    applicant_id: Mapped[int | None] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), index=True
    )
    """Deleting an applicant's data deletes their messages too (they hold the chat id)."""
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    file_path: Mapped[str | None] = mapped_column(String(128))
    file_name: Mapped[str | None] = mapped_column(String(128))
    file_mime_type: Mapped[str | None] = mapped_column(String(64))
    urgent: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_token: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Raised by every claim; with `claimed_by`, the fencing token the holder settles it with."""
    sent_at: Mapped[datetime | None]
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(String(300))
    template_only: Mapped[bool] = mapped_column(default=False)
    """Send as the platform's approved template (WhatsApp said the 24-hour window is closed)."""
    platform_status: Mapped[str | None] = mapped_column(String(16))
    """The platform's delivery report (WhatsApp): sent, delivered, read or failed."""
    buttons: Mapped[list[dict[str, str]] | None] = mapped_column(JSON(none_as_null=True))
    """[{"id": "menu:register", "label": "…"}]: shown under the message (reminders); none is
    SQL NULL, also when rows are inserted in bulk."""
    track: Mapped[str | None] = mapped_column(String(64))
    """What this message becomes the live view of once sent (`broadcast:12`: its progress)."""


class ReminderReceipt(Base):
    """A reminder an applicant was sent: the unique key makes every reminder go out once."""

    __tablename__ = "reminder_receipts"
    __table_args__ = (UniqueConstraint("applicant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    """e.g. registration:3, silent, event:tes_kompetensi:1."""
    at: Mapped[datetime]


class ScheduledBroadcast(Base):
    """A broadcast staff set for a later moment; its audience is taken when it goes out."""

    __tablename__ = "scheduled_broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    send_at: Mapped[datetime] = mapped_column(index=True)
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    """waiting, sent, cancelled."""
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"))


class StageResult(Base):
    """An applicant's result at one selection stage ("1", "2", ... or "final"), set by staff."""

    __tablename__ = "stage_results"
    __table_args__ = (
        UniqueConstraint("applicant_id", "stage"),
        Index("ix_stage_results_stage_outcome", "stage", "outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_id: Mapped[int] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str] = mapped_column(String(16))
    """passed, not_passed or pending."""
    note: Mapped[str | None] = mapped_column(String(300))
    """Told to the applicant with the result (e.g. which document was unreadable)."""
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(160))
    """chat, cli, or import:<file name>."""


class StagePublication(Base):
    """A stage whose results staff released: applicants see them and are told."""

    __tablename__ = "stage_publications"

    stage: Mapped[str] = mapped_column(String(8), primary_key=True)
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(128))


class SobatProgress(Base):
    """Where an applicant is on one SOBAT step: done, or stuck."""

    __tablename__ = "sobat_progress"
    __table_args__ = (UniqueConstraint("applicant_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_id: Mapped[int] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    """done or stuck."""
    updated_at: Mapped[datetime]


class SobatReport(Base):
    """An applicant stuck on SOBAT, in their own words, and staff's answer."""

    __tablename__ = "sobat_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_id: Mapped[int] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="open")
    """open or answered."""
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(128))
    answered_at: Mapped[datetime | None]


class Question(Base):
    """A question typed in a chat that the bot could not answer for sure, handed to staff on
    the applicant's request, and staff's answer (sent to that chat)."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_state", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_id: Mapped[int | None] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), index=True
    )
    """Deleting an applicant's data deletes their questions (their own words)."""
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(128))
    """Where the answer goes: the chat's id, or a WhatsApp user's phone number (wa_id)."""
    language: Mapped[str] = mapped_column(String(2))
    text: Mapped[str] = mapped_column(Text)
    suggested: Mapped[str | None] = mapped_column(String(64))
    """The FAQ topic the bot thought closest, if any (a hint for staff)."""
    created_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="open")
    """open or answered."""
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(128))
    answered_at: Mapped[datetime | None]


class LearnedPhrasing(Base):
    """A way of asking that staff added to a FAQ topic of the config (`mitrabot questions
    learn`): the bot matches it like the config's own phrasings."""

    __tablename__ = "faq_phrasings"
    __table_args__ = (UniqueConstraint("topic", "text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(String(500))
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id", ondelete="SET NULL"))
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime]


class InboundPayload(Base):
    """An inbound body accepted (a webhook answered 200, a Telegram update confirmed by the next
    `getUpdates` offset): kept until it is handled, so a crash after the acknowledgement loses
    nothing (the platform will not send it again). Once handled, what is left is the record
    that it was (`handled_at`, the body emptied): the same update received again is neither
    stored nor handled twice, until retention forgets it."""

    __tablename__ = "inbound_payloads"
    __table_args__ = (
        Index("uq_inbound_payloads_platform_id", "channel", "platform_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[str | None] = mapped_column(String(64))
    """The platform's own id of the payload when it has one (Telegram's `update_id`): the same
    update received twice is stored once. None for a WhatsApp batch."""
    body: Mapped[str] = mapped_column(Text)
    """The raw body as received (already checked against its signature)."""
    received_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    handled_at: Mapped[datetime | None]
    """When its turn (or the decision to ignore it) was committed; the body is emptied then."""


class ProcessedUpdate(Base):
    """A platform update already handled: a re-delivery with the same key is ignored."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime]


class StaffMember(Base):
    """A chat identity with staff rights, added from the command line."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(80))
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(128))


class RecruitmentFlag(Base):
    """A switch staff can flip at run time (e.g. registration closed early: quota full)."""

    __tablename__ = "recruitment_flags"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128))


class Counter(Base):
    """A named sequence (registration numbers) that never hands out the same value twice."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class AuditEntry(Base):
    """Who did what to whose data, and when. Holds no NIK or document content."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    applicant_id: Mapped[int | None] = mapped_column(index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class StaffAccount(Base):
    """A staff member's account for the web desk (`/desk`): a login name, an argon2 password
    hash, and a role (admin, reviewer, viewer). Disabled, never deleted: the audit log names it."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled_at: Mapped[datetime | None]
    """Set when the account was removed: it can no longer sign in (its sessions were ended)."""
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    password_changed_at: Mapped[datetime]


class DeskSession(Base):
    """A signed-in desk session, shared by every `serve` process. Keyed by the SHA-256 of the
    cookie's token: the token itself is never stored, so a copy of the database signs nobody in."""

    __tablename__ = "desk_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    """Sent back with every form (and htmx request) of this session."""
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    """The latest moment it can be used, however active (the maximum age)."""
    last_seen_at: Mapped[datetime]
    """Its last request: it ends after the idle limit without one."""


class DeskView(Base):
    """A desk page's filters kept server-side under an opaque id, so no personal value typed
    into a search (NIK, phone, e-mail) ever appears in a URL. Belongs to one session and ends
    with it."""

    __tablename__ = "desk_views"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_hash: Mapped[str] = mapped_column(
        ForeignKey("desk_sessions.token_hash", ondelete="CASCADE"), index=True
    )
    page: Mapped[str] = mapped_column(String(32))
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class DeskUpload(Base):
    """A results file uploaded on the desk, kept between its dry run and "Terapkan" (then
    removed): in the database, so any `serve` process finds it and no file lies in a folder.
    Belongs to one session and ends with it; one per session at a time."""

    __tablename__ = "desk_uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_hash: Mapped[str] = mapped_column(
        ForeignKey("desk_sessions.token_hash", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class LoginThrottle(Base):
    """Failed desk sign-ins per login name and per client address (each kept as a SHA-256, not
    as typed), counted in a window; past the limit, sign-in is refused until `locked_until`."""

    __tablename__ = "desk_login_throttle"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]
