"""Secrets and infrastructure from the environment (or `.env`), via pydantic-settings."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.intake import BODY_TIMEOUT, MAX_BODY_BYTES, ORPHAN_AFTER, STUCK_AFTER, SWEEP_EVERY
from core.recruitment import DEFAULT_CONFIG_PATH
from storage.db import sqlite_files

TELEGRAM_CONCURRENCY = 32
"""Telegram updates handled at once by default: a turn holds its slot while its callback is
acknowledged and its replies go out, so with Telegram a round trip away (~100 ms a call) 8 would
cap a process at a few dozen updates a second; one chat's updates still go one at a time."""


class ServeError(Exception):
    """The settings do not describe anything to serve."""


class Settings(BaseSettings):
    """Everything that differs between machines, never between regencies (that is the config)."""

    model_config = SettingsConfigDict(
        env_prefix="MITRABOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite under data_dir"
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=500,
        description="PostgreSQL: connections one process keeps open (as many more in a burst)",
    )
    recruitment_file: Path = DEFAULT_CONFIG_PATH
    telegram_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    telegram_concurrency: int = Field(default=TELEGRAM_CONCURRENCY, ge=1, le=256)
    telegram_rate: float = Field(default=30.0, gt=0, description="bot-initiated messages/second")
    telegram_chat_rate: float = Field(default=1.0, gt=0, description="messages/second per chat")
    telegram_webhook_url: str | None = Field(
        default=None,
        description="public https URL of /telegram/webhook; set: `serve` uses webhook mode",
    )
    telegram_webhook_secret: SecretStr | None = Field(
        default=None,
        description="X-Telegram-Bot-Api-Secret-Token Telegram must send; unset: derived from the "
        "bot token (the same in every `serve` process)",
    )
    whatsapp_phone_id: str | None = Field(default=None, description="Cloud API phone number id")
    whatsapp_token: SecretStr | None = None
    whatsapp_app_secret: SecretStr | None = Field(
        default=None, description="signs every webhook POST (X-Hub-Signature-256)"
    )
    whatsapp_verify_token: SecretStr | None = Field(
        default=None, description="the token Meta echoes in the webhook set-up handshake"
    )
    whatsapp_base_url: str = Field(
        default="https://graph.facebook.com", description="Graph API (a proxy, or a test fake)"
    )
    whatsapp_api_version: str = "26.0"
    whatsapp_concurrency: int = Field(
        default=32,
        ge=1,
        le=256,
        description="WhatsApp messages handled at once (each holds its slot through its sends)",
    )
    whatsapp_rate: float = Field(default=80.0, gt=0, description="messages/second per number")
    whatsapp_chat_rate: float = Field(
        default=1 / 6, gt=0, description="messages/second to one user (pair rate limit)"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    reuse_port: bool = Field(
        default=False,
        description="bind with SO_REUSEPORT: several `serve` processes share one port (the "
        "kernel spreads the connections); behind a proxy, give each its own port instead",
    )
    stop_grace_seconds: float = Field(
        default=20.0,
        gt=0,
        description="on SIGTERM, how long the requests, the updates in hand and the sends in "
        "flight may take to finish; what is left stays in the database for the next process",
    )
    max_body_bytes: int = Field(
        default=MAX_BODY_BYTES, ge=1024, description="larger webhook bodies are refused (413)"
    )
    body_timeout_seconds: float = Field(
        default=BODY_TIMEOUT,
        gt=0,
        description="a webhook body not all there by then is refused (408)",
    )
    inbound_orphan_seconds: float = Field(
        default=ORPHAN_AFTER.total_seconds(),
        ge=0,
        description="a stored inbound update this old that no process here has in hand is "
        "taken by the sweep (left by a killed process)",
    )
    inbound_sweep_seconds: float = Field(
        default=SWEEP_EVERY,
        gt=0,
        description="how often the inbound sweep looks (and once at start)",
    )
    delivery_concurrency: int = Field(default=16, ge=1, le=512)
    delivery_shards: int = Field(
        default=1,
        ge=1,
        le=64,
        description="`worker` processes that send one channel side by side, each one shard of "
        "its chats at the channel's rate divided by the shards (limits lifted: one process is "
        "too slow for them); 1: one sending worker per channel, the others standbys",
    )
    delivery_lease_seconds: float = Field(
        default=60.0,
        ge=5,
        description="a message claimed this long ago by a dead worker is sent again",
    )
    clock_at: datetime | None = Field(
        default=None, description="rehearsal: start the clock at this local time"
    )
    staff: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="chat identities with staff rights, e.g. telegram:12345"
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line (for a log collector)"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="/metrics answers clients other than 127.0.0.1/::1 only with this bearer token",
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="`mitrabot worker` serves /healthz, /readyz and /metrics on this port "
        "(at MITRABOT_HOST; same token rule as serve); unset: no web server in the worker",
    )
    ready_stuck_seconds: float = Field(
        default=STUCK_AFTER.total_seconds(),
        gt=0,
        description="/readyz fails (503) when an inbound update or a due outbox message has "
        "waited longer",
    )
    desk_secure_cookie: bool | None = Field(
        default=None,
        description="mark the desk's session cookie Secure; unset: when the request is https "
        "(behind a proxy: its X-Forwarded-Proto, trusted from FORWARDED_ALLOW_IPS)",
    )
    desk_idle_minutes: int = Field(
        default=8 * 60, ge=5, description="a desk session without a request this long ends"
    )
    desk_max_hours: int = Field(
        default=7 * 24, ge=1, description="a desk session ends this long after sign-in"
    )

    @field_validator("staff", mode="before")
    @classmethod
    def _split_staff(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("staff")
    @classmethod
    def _staff_shape(cls, value: list[str]) -> list[str]:
        for identity in value:
            channel, _, user = identity.partition(":")
            if channel not in {"telegram", "whatsapp", "terminal"} or not user:
                raise ValueError(f"staff identity {identity!r} must look like telegram:12345")
        return value

    @property
    def whatsapp_configured(self) -> bool:
        """Any WhatsApp setting given (all four are then needed)."""
        return any(
            (
                self.whatsapp_phone_id,
                self.whatsapp_token,
                self.whatsapp_app_secret,
                self.whatsapp_verify_token,
            )
        )

    @property
    def documents_dir(self) -> Path:
        """Where uploaded documents are kept (private: never served by any web path)."""
        return self.data_dir / "documents"

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or the SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'mitrabot.db').resolve()}"

    @property
    def private_paths(self) -> list[Path]:
        """What must stay private to the bot's user: the data folder, the documents and, on
        SQLite, the database file with its -wal and -shm."""
        return [self.data_dir, self.documents_dir, *sqlite_files(self.effective_database_url)]
