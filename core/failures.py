"""Logging a failure without what it was about: an exception's message can repeat what a user
typed (pydantic's `input_value`, `int()`'s "invalid literal", a database's "Key (nik)=(…)"), so
where the failing work held a user's message, the log gets the traceback's frames and the
exceptions' types only."""

from __future__ import annotations

import logging
import sys
import traceback

from pydantic import ValidationError

WITHHELD = "(message withheld: it may hold personal data)"


def private_traceback(error: BaseException) -> str:
    """`error`'s traceback, with its causes and contexts, as Python prints it but with every
    exception message replaced by `WITHHELD` (file, line, function and source line stay)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        cause = current.__cause__
        current = (
            cause if cause is not None or current.__suppress_context__ else current.__context__
        )
    parts = [
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_tb(each.__traceback__))
        + f"{type(each).__module__}.{type(each).__qualname__} {WITHHELD}\n"
        for each in reversed(chain)
    ]
    return "\nDuring or because of the above, another exception occurred:\n\n".join(parts)


def invalid_fields(error: ValidationError) -> str:
    """Which fields of a model were invalid (`text`, `file.size`), never their values."""
    return ", ".join(".".join(map(str, detail["loc"])) for detail in error.errors())


def log_failure(
    logger: logging.Logger, message: str, *args: object, error: BaseException | None = None
) -> None:
    """Log `message` at ERROR with the private traceback of `error` (default: the exception
    being handled): the personal-data-safe `logger.exception`."""
    error = error or sys.exc_info()[1]
    if error is None:
        logger.error(message, *args, stacklevel=2)
        return
    logger.error(message + "\n%s", *args, private_traceback(error).rstrip("\n"), stacklevel=2)
