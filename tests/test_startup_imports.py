"""Each command imports only what it needs: no web server, desk templates, WhatsApp client,
spreadsheet library or metrics for a command that does not use them (issue 20).

Every command runs for real in a fresh interpreter (`bot.cli.main`), then the interpreter lists
the heavy packages it loaded. `chat` reads an empty stdin and ends at EOF; `run` and `worker` talk
to the fake Bot API on 127.0.0.1 and stop at once (their stop event is set before they start).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeBotApi

WEB = {"starlette", "uvicorn", "jinja2", "pywa", "pywa_async", "prometheus_client"}
"""The web app, the staff desk's templates, the WhatsApp client and the metrics."""
SPREADSHEET = {"openpyxl"}
HEAVY = WEB | SPREADSHEET | {"telegram", "PIL", "pypdf", "bm25s"}

SCRIPT = """
import asyncio, json, sys
from bot import cli

def stopped() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event

cli._stop_on_signals = stopped
code = cli.main({argv!r})
print("\\nLOADED", json.dumps([code, sorted({{m.split(".")[0] for m in sys.modules}} & {heavy!r})]))
"""


async def loaded(argv: list[str], env: dict[str, str]) -> set[str]:
    """The heavy packages a fresh interpreter loaded running `mitrabot ARGV` (which must end
    with exit code 0)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT.format(argv=argv, heavy=HEAVY),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    code, modules = json.loads(out.decode().rpartition("LOADED ")[2])
    assert code == 0, out.decode() + err.decode()
    return set(modules)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: a fresh data folder, no WhatsApp, no Telegram."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MITRABOT_")}
    clean["MITRABOT_DATA_DIR"] = str(tmp_path / "data")
    return clean


async def test_chat_loads_no_web_server_whatsapp_spreadsheet_or_telegram(
    env: dict[str, str],
) -> None:
    assert (
        await loaded(["chat", "--user", "tester"], env) & (WEB | SPREADSHEET | {"telegram"})
        == set()
    )


async def test_staff_commands_load_no_platform_or_web_server(env: dict[str, str]) -> None:
    assert await loaded(["staff", "list"], env) & (WEB | SPREADSHEET | {"telegram"}) == set()


async def test_run_and_worker_load_no_web_server_whatsapp_or_spreadsheet(
    env: dict[str, str],
) -> None:
    async with FakeBotApi() as fake:
        env["MITRABOT_TELEGRAM_TOKEN"] = fake.token
        env["MITRABOT_TELEGRAM_BASE_URL"] = fake.base_url
        env["MITRABOT_TELEGRAM_BASE_FILE_URL"] = fake.base_file_url
        run = await loaded(["run"], env)
        worker = await loaded(["worker"], env)
    assert "telegram" in run and "telegram" in worker  # the commands really started
    assert run & (WEB | SPREADSHEET) == set()
    assert worker & (WEB | SPREADSHEET) == set()
