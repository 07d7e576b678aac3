"""Logging of the running bot: libraries that would log secrets or personal values are quieted,
and what is written is passed through a filter that masks NIKs, phone numbers and e-mails; as
text lines or, when asked, as JSON lines."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

QUIET = ("httpx", "httpcore", "alembic", "aiosqlite", "pywa", "telegram", "sqlalchemy")
"""Request lines carry the bot token; the debug lines of aiosqlite (every SQL parameter), pywa
and python-telegram-bot (every message sent or received) and SQLAlchemy (every row read, which
it logs whenever the root logger is at DEBUG) carry personal values."""
PATTERNS = (
    (re.compile(r"(?<![\w.])\d{16}(?!\d)"), "[NIK]"),
    (re.compile(r"(?<![\w+])(?:\+?62|0)[\s-]?8(?:[\s-]?\d){7,12}(?!\d)"), "[phone]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[e-mail]"),
)


def redact(text: str) -> str:
    """`text` with every NIK-, phone- and e-mail-like value masked."""
    for pattern, mask in PATTERNS:
        text = pattern.sub(mask, text)
    return text


class RedactPersonal(logging.Filter):
    """A second line of defence on every handler: masks personal values that reached a log
    line anyway (the message, its arguments and a traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def quiet_libraries() -> None:
    """Libraries in `QUIET` log warnings and worse only."""
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.root.level))


class JsonLines(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message and, with an
    exception, its type only (its message may hold a personal value; `log_failure` writes the
    private traceback into the message)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (after `RedactPersonal` masked its message)."""
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__qualname__
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str | int, log_format: str = "text") -> None:
    """The bot's logging: `level`, quiet libraries, personal values masked on every handler;
    `log_format` "json" writes one JSON object per line."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_libraries()
    for handler in logging.root.handlers:
        handler.addFilter(RedactPersonal())
        if log_format == "json":
            handler.setFormatter(JsonLines())
