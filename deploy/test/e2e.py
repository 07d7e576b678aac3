"""End-to-end test of deploy/debian: a fresh Debian 12 container set up by install.sh serves the
project's fakes through Caddy (https) and PostgreSQL.

Run as root from the project checkout, with its development venv (the fakes live in tests/):

    sudo .venv/bin/python deploy/test/e2e.py [--keep]

The fakes (Telegram Bot API, WhatsApp Graph API) listen on this host's 127.0.0.1; the container
shares the host's network (deploy/test/e2e.sh), so its `mitrabot serve` reaches them and this
script reaches its Caddy at https://localhost. Slow (minutes): not part of pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fakes.graph_api import FakeGraphApi  # noqa: E402
from tests.fakes.telegram_api import FakeBotApi, text_update  # noqa: E402
from tests.fakes.whatsapp_webhook import (  # noqa: E402
    DEFAULT_SENDER,
    WebhookBuilder,
    signed_request,
    verification_query,
)

E2E = ROOT / "deploy" / "test" / "e2e.sh"
PROXY = "https://localhost"
WEBHOOK_SECRET = "e2e-webhook-secret"
TELEGRAM_USER = 424242


async def e2e(*args: str) -> str:
    """Run deploy/test/e2e.sh with `args`, its output shown; raise when it fails."""
    process = await asyncio.create_subprocess_exec(
        str(E2E), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    lines: list[str] = []
    assert process.stdout is not None
    async for raw in process.stdout:
        line = raw.decode(errors="replace")
        lines.append(line)
        print(line, end="", flush=True)
    if await process.wait() != 0:
        raise RuntimeError(f"e2e.sh {' '.join(args)} failed (exit {process.returncode})")
    return "".join(lines)


async def eventually(what: str, probe: Callable[[], Awaitable[bool]], seconds: float) -> None:
    """Wait until `probe` is true (real time: this is a manual test of a real server)."""
    deadline = time.monotonic() + seconds
    while not await probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {seconds:.0f} s")
        await asyncio.sleep(1)


def check(ok: bool, what: str) -> None:
    """Print a passed check, or stop the run."""
    if not ok:
        raise RuntimeError(f"FAILED: {what}")
    print(f"ok: {what}", flush=True)


async def checks(client: httpx.AsyncClient, telegram: FakeBotApi, graph: FakeGraphApi) -> None:
    """What a deployed server must do, each through Caddy's https."""

    async def healthy() -> bool:
        try:
            return (await client.get("/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually("https://localhost/healthz answers 200", healthy, 90)
    check(True, "GET /healthz through Caddy: 200")
    ready = await client.get("/readyz")
    check(ready.status_code == 200, f"GET /readyz through Caddy: {ready.status_code} {ready.text}")
    metrics = await client.get("/metrics")
    check(metrics.status_code == 403, f"GET /metrics from outside: {metrics.status_code}")
    big = await client.post(
        "/whatsapp/webhook",
        content=b"x" * (2 * 1024 * 1024),
        headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    check(big.status_code == 413, f"a 2 MiB webhook body refused: {big.status_code}")
    desk = await client.get("/desk/", follow_redirects=True)
    check(desk.status_code == 200, f"the staff desk's sign-in page: {desk.status_code}")
    cookie = desk.headers.get("set-cookie", "")
    check(
        "secure" in cookie.lower(),
        "its cookie is Secure with MITRABOT_DESK_SECURE_COOKIE unset: serve saw Caddy's https",
    )

    webhook = telegram.webhook or {}
    check(
        webhook.get("url") == f"{PROXY}/telegram/webhook",
        f"serve registered the Telegram webhook {webhook.get('url')}",
    )
    telegram.add_user(TELEGRAM_USER)  # the fake knows the chats that wrote to the bot
    update = text_update(1001, TELEGRAM_USER, "/start")
    posted = await client.post(
        "/telegram/webhook",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
    )
    check(posted.status_code == 200, f"Telegram update posted through Caddy: {posted.status_code}")
    [reply, *_] = await telegram.wait_for_messages(TELEGRAM_USER, 1, timeout=60)
    check(bool(reply.text), f"the bot answered /start on Telegram: {reply.text[:60]!r}")

    challenge = await client.get(
        "/whatsapp/webhook", params=verification_query(graph.verify_token, "31337")
    )
    check(challenge.text == "31337", f"WhatsApp verify handshake: {challenge.text!r}")
    graph.register_user(DEFAULT_SENDER.user_id, DEFAULT_SENDER.wa_id)
    hooks = WebhookBuilder(phone_id=graph.phone_id, waba_id=graph.waba_id)
    body, headers = signed_request(hooks.text("halo"), graph.app_secret)
    posted = await client.post("/whatsapp/webhook", content=body, headers=headers)
    check(posted.status_code == 200, f"signed WhatsApp message through Caddy: {posted.status_code}")
    [sent, *_] = await graph.wait_for_messages(1, timeout=60, to=DEFAULT_SENDER.user_id)
    check(bool(sent.text), f"the bot answered on WhatsApp: {(sent.text or '')[:60]!r}")

    await e2e("exec", "systemctl", "start", "mitrabot-backup.service")
    backups = await e2e("exec", "ls", "/var/backups/mitrabot")
    check(".tar.gz" in backups, "mitrabot-backup.service wrote a .tar.gz")
    started = time.monotonic()
    await e2e("exec", "systemctl", "restart", "mitrabot-serve.service", "mitrabot-worker.service")
    restart = time.monotonic() - started
    await eventually("/healthz after a restart", healthy, 60)
    check(True, f"serve and worker restarted ({restart:.1f} s) and healthy again")
    await e2e("exec", "systemctl", "is-active", "mitrabot-serve", "mitrabot-worker", "caddy")
    await e2e("exec", "systemd-analyze", "security", "--no-pager", "mitrabot-serve.service")


async def main() -> int:
    """Fakes up, container up and installed, the checks, container down."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the container running")
    args = parser.parse_args()
    started = time.monotonic()
    async with FakeBotApi() as telegram, FakeGraphApi() as graph:
        settings = {
            "MITRABOT_TELEGRAM_TOKEN": telegram.token,
            "MITRABOT_TELEGRAM_BASE_URL": telegram.base_url,
            "MITRABOT_TELEGRAM_BASE_FILE_URL": telegram.base_file_url,
            "MITRABOT_TELEGRAM_WEBHOOK_URL": f"{PROXY}/telegram/webhook",
            "MITRABOT_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            # Unset: the desk's cookie is Secure only when serve sees https (X-Forwarded-Proto).
            "MITRABOT_DESK_SECURE_COOKIE": "",
            **graph.settings(),
        }
        with tempfile.NamedTemporaryFile("w", suffix=".env") as file:
            file.write("".join(f"{name}={value}\n" for name, value in settings.items()))
            file.flush()
            try:
                await e2e("up", file.name)
            except RuntimeError:
                if not args.keep:
                    await e2e("down")
                raise
        installed = time.monotonic()
        try:
            async with httpx.AsyncClient(base_url=PROXY, verify=False, timeout=30) as client:
                await checks(client, telegram, graph)
        finally:
            if not args.keep:
                await e2e("down")
    print(
        f"PASSED: install {installed - started:.0f} s, checks {time.monotonic() - installed:.0f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
