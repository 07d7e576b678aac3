"""/readyz, /metrics and the JSON log lines of `mitrabot serve`."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bot.logs import JsonLines, RedactPersonal
from bot.metrics import Metrics
from bot.web import build_web_app
from core.clock import FrozenClock
from handlers.flow import Dependencies
from storage.db import Database
from storage.inbound import InboundPayloads
from storage.models import OutboxMessage
from tests.test_whatsapp import WhatsAppRig, open_rig

NIK = "3201234567890123"
PHONE = "081234567890"


def _client(web: Any, host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=web, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://bot.test")


async def test_readyz_fails_once_an_inbound_payload_waits_past_the_threshold(
    any_db: Database, clock: FrozenClock
) -> None:
    web = build_web_app(any_db, now=clock.now, stuck_after=timedelta(minutes=5))
    async with any_db.transaction() as session:
        await InboundPayloads(session).store("whatsapp", "{}", clock.now())
    async with _client(web) as http:
        assert (await http.get("/readyz")).json() == {"ready": True}
        clock.advance(timedelta(minutes=6))
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "reason": "inbound payloads waiting too long"}


async def test_readyz_fails_when_the_database_is_unreachable(clock: FrozenClock) -> None:
    unreachable = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    async with _client(build_web_app(unreachable, now=clock.now)) as http:
        response = await http.get("/readyz")
    await unreachable.dispose()
    assert response.status_code == 503
    assert response.json() == {"ready": False, "reason": "database unreachable"}


async def test_readyz_fails_before_the_migrations_ran(tmp_path: Any, clock: FrozenClock) -> None:
    empty = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    async with _client(build_web_app(empty, now=clock.now)) as http:
        response = await http.get("/readyz")
    await empty.dispose()
    assert response.json() == {"ready": False, "reason": "migrations not at head"}


@pytest.fixture
async def counted(db: Database, deps: Dependencies) -> AsyncIterator[WhatsAppRig]:
    """The WhatsApp rig with its sends counted in the web app's metrics."""
    async with open_rig(db, deps, Metrics(), metrics_token="s3cret") as rig:
        yield rig


def _samples(text: str) -> dict[str, float]:
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_move_when_a_message_is_handled(counted: WhatsAppRig) -> None:
    before = _samples((await counted.http.get("/metrics")).text)
    await counted.post(counted.build.text("halo"))
    after = _samples((await counted.http.get("/metrics")).text)
    channel = "[('channel', 'whatsapp')]"
    assert f"mitrabot_updates_received_total{channel}" not in before
    assert after[f"mitrabot_updates_received_total{channel}"] == 1
    assert after[f"mitrabot_updates_handled_total{channel}"] == 1
    assert after[f"mitrabot_update_handling_seconds_count{channel}"] == 1
    sent = "mitrabot_sends_total[('channel', 'whatsapp'), ('result', 'ok')]"
    async with counted.conversation.db.transaction() as session:
        rows = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "sent")
        )
    assert after[sent] == rows > 0
    assert after["mitrabot_outbox_queued[]"] == 0


async def test_metrics_refused_to_a_remote_client_without_the_token(
    counted: WhatsAppRig,
) -> None:
    async with _client(counted.web, host="203.0.113.9") as remote:
        assert (await remote.get("/metrics")).status_code == 403
        wrong = {"Authorization": "Bearer nope"}
        assert (await remote.get("/metrics", headers=wrong)).status_code == 403
        right = {"Authorization": "Bearer s3cret"}
        assert (await remote.get("/metrics", headers=right)).status_code == 200
    assert (await counted.http.get("/metrics")).status_code == 200


async def test_metrics_refused_to_any_remote_client_when_no_token_is_set(
    db: Database, clock: FrozenClock
) -> None:
    async with _client(build_web_app(db, now=clock.now), host="203.0.113.9") as remote:
        response = await remote.get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 403


def _log_lines(formatter: logging.Formatter) -> list[str]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactPersonal())
    handler.setFormatter(formatter)
    logger = logging.getLogger("tests.health")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("applicant %s wrote from %s", NIK, PHONE)
        try:
            raise ValueError(f"bad NIK {NIK}")
        except ValueError:
            logger.exception("check failed for %s", PHONE)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue().splitlines()


def test_json_log_lines_parse_and_carry_no_personal_value() -> None:
    lines = _log_lines(JsonLines())
    records = [json.loads(line) for line in lines]
    assert len(records) == 2
    assert records[0]["level"] == "WARNING" and records[0]["logger"] == "tests.health"
    assert records[0]["message"] == "applicant [NIK] wrote from [phone]"
    assert records[1]["exception"] == "ValueError"
    assert {"time", "level", "logger", "message"} <= set(records[1])
    assert not any(NIK in line or PHONE in line for line in lines)


def test_text_log_lines_carry_no_personal_value() -> None:
    text = "\n".join(_log_lines(logging.Formatter("%(levelname)s %(name)s: %(message)s")))
    assert "ValueError" in text and "[NIK]" in text
    assert NIK not in text and PHONE not in text
