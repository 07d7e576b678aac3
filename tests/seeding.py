"""Confirmed applicants written straight to the database (faster than chatting them through)."""

from __future__ import annotations

from datetime import date, datetime

from storage.db import Database
from storage.models import Applicant, ChatIdentity, ChatSession

FIRST_CHAT_ID = 5001
TODAY = date(2023, 12, 5)
"""The bot's date when staff import results in these tests."""


def seeded_nik(n: int) -> str:
    """The NIK of seeded applicant `n` (born 17-08-1995, female, Tlanakan)."""
    return f"352801570895{n:04d}"


def seeded_number(n: int) -> str:
    """The registration number of seeded applicant `n`."""
    return f"PMK24-{n:05d}"


async def seed_applicants(
    db: Database,
    count: int,
    now: datetime,
    language: str = "id",
    start: int = 1,
    channel: str = "telegram",
) -> list[str]:
    """`count` confirmed applicants on `channel` (chat ids 5001, 5002, ...); their chat ids."""
    chats = []
    async with db.transaction() as session:
        for n in range(start, start + count):
            applicant = Applicant(
                created_at=now,
                updated_at=now,
                eligibility={},
                consent_at=now,
                consent_version="pamekasan-2024-v2",
                full_name=f"Pendaftar {n}",
                nik=seeded_nik(n),
                birth_place="Pamekasan",
                birth_date=date(1995, 8, 17),
                sex="P",
                address="Desa Tlanakan",
                kecamatan="35.28.01",
                registration_number=seeded_number(n),
                confirmed_at=now,
            )
            chat = str(FIRST_CHAT_ID + n - 1)
            applicant.identities.append(
                ChatIdentity(channel=channel, external_id=chat, created_at=now)
            )
            session.add(applicant)
            session.add(
                ChatSession(
                    channel=channel,
                    external_id=chat,
                    language=language,
                    step="menu",
                    data={},
                    created_at=now,
                    updated_at=now,
                )
            )
            chats.append(chat)
    return chats


def queued_message(
    dedup_key: str, channel: str, recipient: str, text: str, now: datetime, **extra: object
) -> dict[str, object]:
    """An outbox row waiting to be sent from `now` (not urgent unless `extra` says so)."""
    return {
        "dedup_key": dedup_key,
        "channel": channel,
        "recipient": recipient,
        "text": text,
        "state": "queued",
        "attempts": 0,
        "not_before": now,
        "created_at": now,
        "urgent": False,
        **extra,
    }
