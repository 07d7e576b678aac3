"""`mitrabot doctor`: what breaks a deployment, checked without migrating or changing anything.

The settings' own shapes (tokens, secrets, the webhook URL, where the web app listens) are
checked here; the recruitment, the database, the clock and the disk in services/doctor.py.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from pydantic import SecretStr

from bot.serve import WEBHOOK_SECRET
from bot.settings import Settings
from bot.web import TELEGRAM_PATH
from core.clock import JAKARTA, Clock
from services.doctor import (
    Finding,
    blocker,
    check_database,
    check_dates,
    check_folder,
    check_private,
    check_quiet_hours,
    check_recruitment,
    ok,
    warning,
)

TELEGRAM_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]{35}")
"""The shape of a bot token as @BotFather gives it."""
META_APP_SECRET = re.compile(r"[0-9a-fA-F]{32}")
"""The shape of a Meta app secret (App settings > Basic)."""
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})


async def diagnose(settings: Settings, clock: Clock | None = None) -> list[Finding]:
    """Every check, in the order an operator fixes them. `clock` (default: the real one, or
    the rehearsal clock of MITRABOT_CLOCK_AT) dates the recruitment file; its machine time is
    compared with the database server's."""
    findings, config = check_recruitment(settings.recruitment_file)
    if clock is None:
        clock = Clock(config.tz if config else JAKARTA, start_at=settings.clock_at)
    now = clock.now()
    if config is not None:
        findings += [check_dates(config, now), check_quiet_hours(config.quiet_hours)]
    findings += await check_database(
        settings.effective_database_url, clock.real_time(now), len(settings.staff)
    )
    findings += [
        check_folder("data_dir", settings.data_dir),
        check_folder("documents", settings.documents_dir),
        *check_private(settings.private_paths),
        *check_telegram(settings),
        *check_whatsapp(settings),
        check_channels(settings),
        *check_web(settings),
    ]
    return findings


def check_telegram(settings: Settings) -> list[Finding]:
    """The bot token's shape, the webhook secret's charset and the webhook URL (https, the
    route `serve` listens on, no query); no URL means polling (`mitrabot run`)."""
    url = settings.telegram_webhook_url
    if settings.telegram_token is None:
        if url:
            return [warning("telegram", "doctor_tg_url_without_token")]
        return [ok("telegram", "doctor_tg_off")]
    found = []
    if not TELEGRAM_TOKEN.fullmatch(settings.telegram_token.get_secret_value()):
        found.append(blocker("telegram", "doctor_tg_token_shape"))
    secret = settings.telegram_webhook_secret
    if secret is not None and not WEBHOOK_SECRET.fullmatch(secret.get_secret_value()):
        found.append(blocker("telegram", "doctor_tg_secret_shape"))
    if not url:
        return [*found, ok("telegram", "doctor_tg_polling")]
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        found.append(blocker("telegram", "doctor_tg_url_not_https", url=url))
    if parts.query or parts.fragment:
        found.append(blocker("telegram", "doctor_tg_url_query", url=url))
    if not parts.path.endswith(TELEGRAM_PATH):
        found.append(blocker("telegram", "doctor_tg_url_route", url=url, route=TELEGRAM_PATH))
    return found or [ok("telegram", "doctor_tg_webhook", url=url)]


def check_whatsapp(settings: Settings) -> list[Finding]:
    """All four WhatsApp settings or none; the phone number id digits, the app secret shaped
    like Meta's, no blank inside a token."""
    values = {
        "MITRABOT_WHATSAPP_PHONE_ID": settings.whatsapp_phone_id,
        "MITRABOT_WHATSAPP_TOKEN": _plain(settings.whatsapp_token),
        "MITRABOT_WHATSAPP_APP_SECRET": _plain(settings.whatsapp_app_secret),
        "MITRABOT_WHATSAPP_VERIFY_TOKEN": _plain(settings.whatsapp_verify_token),
    }
    missing = [name for name, value in values.items() if not value]
    if len(missing) == len(values):
        return [ok("whatsapp", "doctor_wa_off")]
    if missing:
        return [blocker("whatsapp", "doctor_wa_partial", missing=", ".join(missing))]
    found = [
        blocker("whatsapp", "doctor_wa_blank", name=name)
        for name, value in values.items()
        if value != (value or "").strip() or " " in (value or "")
    ]
    if not (settings.whatsapp_phone_id or "").isdigit():
        found.append(blocker("whatsapp", "doctor_wa_phone_id"))
    if not META_APP_SECRET.fullmatch(values["MITRABOT_WHATSAPP_APP_SECRET"] or ""):
        found.append(warning("whatsapp", "doctor_wa_app_secret"))
    return found or [ok("whatsapp", "doctor_wa_ok", phone_id=settings.whatsapp_phone_id)]


def check_channels(settings: Settings) -> Finding:
    """At least one channel is configured (else neither `run` nor `serve` has work)."""
    whatsapp = any((settings.whatsapp_phone_id, settings.whatsapp_token))
    if settings.telegram_token is None and not whatsapp:
        return blocker("channels", "doctor_no_channel")
    return ok("channels", "doctor_channels_ok")


def check_web(settings: Settings) -> list[Finding]:
    """Where `serve` listens: on every interface it wants a proxy or a firewall; off loopback,
    /metrics answers others only with MITRABOT_METRICS_TOKEN."""
    host = settings.host
    found = []
    if host in WILDCARD_HOSTS:
        found.append(warning("web", "doctor_host_everywhere", host=host, port=settings.port))
    if not _loopback(host) and settings.metrics_token is None:
        found.append(warning("web", "doctor_metrics_no_token", host=host))
    return found or [ok("web", "doctor_web_ok", host=host, port=settings.port)]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _plain(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None
