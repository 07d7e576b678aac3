"""Dates, times and small values written the way Indonesian (or English) readers expect."""

from __future__ import annotations

from datetime import date, datetime

MONTHS = {
    "id": (
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
"""The month names as the bot writes them, per language (January first)."""

MONTH_ALIASES: tuple[tuple[str, ...], ...] = (
    ("jan",),
    ("pebruari", "feb", "peb"),
    ("mar",),
    ("apr",),
    (),
    ("jun",),
    ("jul",),
    ("agu", "agt", "ags", "aug"),
    ("sep", "sept"),
    ("okt", "oct"),
    ("nopember", "nov", "nop"),
    ("des", "dec"),
)
"""Other ways people type each month (old spellings, abbreviations), lower case, January first."""

_MONTH_NUMBERS: dict[str, int] = {
    spelling.lower(): number
    for number, (aliases, *names) in enumerate(
        zip(MONTH_ALIASES, *MONTHS.values(), strict=True), start=1
    )
    for spelling in (*names, *aliases)
}


def month_number(name: str) -> int | None:
    """The month (1-12) a typed name means, in either language or abbreviated; else None."""
    return _MONTH_NUMBERS.get(name.lower())


def format_date(day: date, language: str) -> str:
    """'17 Agustus 1995' / '17 August 1995'."""
    return f"{day.day} {MONTHS.get(language, MONTHS['id'])[day.month - 1]} {day.year}"


def format_time(moment: datetime, language: str) -> str:
    """'09.00 WIB' (Indonesian uses a dot) / '09:00 WIB'."""
    separator = "." if language == "id" else ":"
    zone = moment.tzname() if moment.tzname() in {"WIB", "WITA", "WIT"} else _zone_label(moment)
    return f"{moment.hour:02d}{separator}{moment.minute:02d} {zone}"


def format_datetime(moment: datetime, language: str) -> str:
    """'1 November 2023, 00.00 WIB'."""
    return f"{format_date(moment.date(), language)}, {format_time(moment, language)}"


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, one per message: each cut at the last line
    break in the part, else (when that would leave the part under a third full) at the last space,
    else hard. Cuts drop the whitespace around them; always at least one part."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = window.rfind("\n")
        if cut < limit // 3:
            cut = window.rfind(" ")
        if cut < limit // 3:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [*parts, rest] if rest else parts or [""]


def _zone_label(moment: datetime) -> str:
    offset = moment.utcoffset()
    hours = int(offset.total_seconds() // 3600) if offset is not None else 0
    return {7: "WIB", 8: "WITA", 9: "WIT"}.get(hours, f"UTC{hours:+d}")
