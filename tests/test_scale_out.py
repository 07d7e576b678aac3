"""Scale-out, shown (the slow test: real processes, ~1 min; `-m "not slow"` skips it).

Two `mitrabot serve` processes (webhook mode, Telegram and WhatsApp) share one port through
`MITRABOT_REUSE_PORT`, and two `mitrabot worker` processes run beside them, all on one
PostgreSQL. 30 applicants, half per channel, walk ten steps (300 updates), each update posted
until a 200 comes back, as Telegram and Meta re-deliver what was not acknowledged; a broadcast
to all applicants is queued 40 % of the way in. Half-way, one `serve` and one worker are
SIGKILLed: the survivors take the stored updates (the sweep) and the claimed messages (after
the lease). Every update is answered exactly once and every broadcast message sent exactly
once, but for the documented window: a message the platform had at the kill, not yet recorded
as sent, goes out once more after the lease (counted as in tests/test_telegram_intake_crash.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.recruitment import RecruitmentConfig
from storage.db import Database
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi
from tests.webhook_load import SCRIPT, run_fleet

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # a loaded machine starts them slowly
USERS = 30
"""Applicants besides the two references: 300 updates."""


@pytest.mark.parametrize("any_db", ["postgresql"], indirect=True)
async def test_two_serves_and_two_workers_answer_everything_once_through_two_kills(
    any_db: Database, tmp_path: Path, config: RecruitmentConfig
) -> None:
    async with FakeBotApi() as telegram, FakeGraphApi() as graph:
        run = await run_fleet(
            any_db, tmp_path, telegram, graph, config, serves=2, workers=2, users=USERS, kill_at=0.5
        )
        webhook = telegram.webhook
    print(
        f"posted {run.posted}, replies {run.received} of {run.expected}, lost {run.lost}, "
        f"duplicated {run.duplicated}; broadcast to {run.broadcast_recipients}: "
        f"{run.broadcast_missing} missing, {run.broadcast_repeated} repeated; window "
        f"{run.window}; kill at {run.kills}; {run.seconds:.1f} s"
    )
    assert run.posted == USERS * len(SCRIPT)
    assert run.lost == 0
    assert run.broadcast_recipients >= USERS // 2 and run.broadcast_missing == 0
    # nothing twice but the messages in the window of the kill
    assert run.duplicated + run.broadcast_repeated <= run.window
    assert run.kills, "nothing was killed"
    assert run.exits == [0, 0]  # the survivors stop cleanly on SIGTERM
    assert webhook is not None  # a stopping `serve` leaves the webhook to the others
