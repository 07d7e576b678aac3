"""Checks and normalises the answers an applicant types: names, dates, NIK, phone, e-mail.

Every ``parse_*`` function takes the raw text, cleans it (see :func:`clean_text`) and returns a
normalised value, or raises :class:`Invalid` and nothing else. ``Invalid.code`` names a
message-catalog entry and ``Invalid.params`` fill its placeholders:

==================  =========================================================================
code                params and meaning
==================  =========================================================================
name_too_short      (none) fewer than 2 characters, or fewer than 2 letters
name_too_long       max=80
name_chars          (none) something other than letters, spaces and ' . , - (digits included)
place_too_short     (none) fewer than 2 characters, or fewer than 2 letters
place_too_long      max=60
place_chars         (none) something other than letters, spaces and ' . , - ( )
address_too_short   min=10; also raised when the address has fewer than 3 letters
address_too_long    max=300
nik_not_digits      (none) a character other than digits, spaces, dots and dashes
nik_length          got=<number of digits typed> (not 16)
nik_province        code=<first 2 digits> (not a real province code)
nik_region          (none) regency or district part is 00
nik_date            (none) the DDMMYY part is not a possible birth date
nik_serial          (none) the last 4 digits are 0000
date_format         (none) the text cannot be read as a date
date_year_digits    (none) the year is not written with 4 digits (e.g. 17-08-95)
date_invalid        text=<cleaned input> (e.g. 31-02-1995, month 13)
date_future         (none) after today
date_too_old        (none) more than 100 years before today
phone_chars         (none) letters or other junk in a phone number
phone_not_mobile    (none) not an Indonesian mobile number (landline, other country code)
phone_length        got=<digits in the national number> (not 9..12)
email_invalid       (none) not a valid e-mail address (or longer than 254 characters)
==================  =========================================================================
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import MINYEAR, date

from email_validator import validate_email

from core.formatting import month_number

__all__ = [
    "Invalid",
    "Nik",
    "age_on",
    "clean_text",
    "parse_address",
    "parse_date",
    "parse_email",
    "parse_name",
    "parse_nik",
    "parse_phone",
    "parse_place",
    "parse_yes_no",
]


class Invalid(ValueError):
    """A refused answer: `code` names a message-catalog entry, `params` fill its placeholders."""

    def __init__(self, code: str, /, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params: dict[str, object] = params

    def __repr__(self) -> str:
        return f"Invalid({self.code!r}, **{self.params!r})"


# --------------------------------------------------------------------------- text


def clean_text(text: str) -> str:
    """Strip, collapse whitespace runs to one space.

    Also drops invisible format characters (bidi marks, zero-width spaces, BOM, as pasted
    from WhatsApp), treats control characters and lone surrogates as whitespace, and
    applies Unicode NFC so that accented letters compare equal however they were typed.
    """
    chars = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        chars.append(" " if category in ("Cc", "Cs") else ch)
    return " ".join(unicodedata.normalize("NFC", "".join(chars)).split())


_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_DASH_TABLE = str.maketrans(dict.fromkeys(_DASHES, "-"))
_APOSTROPHE_TABLE = str.maketrans({"\u2018": "'", "\u2019": "'"})


def _clean_numeric(text: str) -> str:
    """Clean text that should hold digits: NFKC (full-width digits), one kind of dash."""
    return clean_text(unicodedata.normalize("NFKC", text)).translate(_DASH_TABLE)


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def _fix_case(text: str) -> str:
    """Title-case text typed all in lower or all in upper case; keep mixed case as typed.

    A word starts after a space, dot, comma, dash or bracket, not after an apostrophe:
    "ma'ruf amin" -> "Ma'ruf Amin".
    """
    if not (text.islower() or text.isupper()):
        return text
    out = []
    word_start = True
    for ch in text:
        if ch.isalpha():
            out.append(ch.title() if word_start else ch.lower())
            word_start = False
        else:
            out.append(ch)
            word_start = word_start or ch in " .,-()"
    titled = "".join(out)
    return titled if len(titled) == len(text) else text


def _parse_label(text: str, kind: str, max_len: int, punctuation: str) -> str:
    """Shared rules for a person's name and a place name."""
    cleaned = clean_text(text).translate(_APOSTROPHE_TABLE)
    if len(cleaned) < 2:
        raise Invalid(f"{kind}_too_short")
    if len(cleaned) > max_len:
        raise Invalid(f"{kind}_too_long", max=max_len)
    for ch in cleaned:
        if not (ch.isalpha() or ch == " " or ch in punctuation or _is_mark(ch)):
            raise Invalid(f"{kind}_chars")
    if sum(1 for ch in cleaned if ch.isalpha()) < 2:
        raise Invalid(f"{kind}_too_short")
    return _fix_case(cleaned)


def parse_name(text: str) -> str:
    """A person's full name: 2..80 characters, letters, spaces and ' . , - only."""
    return _parse_label(text, "name", 80, "'.,-")


def parse_place(text: str) -> str:
    """A birth place (city or regency): 2..60 characters, letters, spaces and ' . , - ( )."""
    return _parse_label(text, "place", 60, "'.,-()")


def parse_address(text: str) -> str:
    """A postal address: 10..300 characters with at least 3 letters."""
    cleaned = clean_text(text)
    if len(cleaned) > 300:
        raise Invalid("address_too_long", max=300)
    if len(cleaned) < 10 or sum(1 for ch in cleaned if ch.isalpha()) < 3:
        raise Invalid("address_too_short", min=10)
    return cleaned


# --------------------------------------------------------------------------- NIK

# fmt: off
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35",
    "36", "51", "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76",
    "81", "82", "91", "92", "93", "94", "95", "96",
})
# fmt: on
_DIGITS = re.compile(r"[0-9]*")
_CENTURIES = (2000, 1900)


def _real_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


@dataclass(frozen=True, repr=False)
class Nik:
    """A checked NIK (Nomor Induk Kependudukan); the repr is masked to keep it out of logs."""

    value: str
    region: str
    day: int
    month: int
    year_2digit: int
    female: bool

    def birth_date(self, today: date) -> date | None:
        """Resolve the century: the latest of 19yy/20yy that is not after `today` and is a valid
        date; None if neither."""
        for century in _CENTURIES:
            born = _real_date(century + self.year_2digit, self.month, self.day)
            if born is not None and born <= today:
                return born
        return None

    def mismatches(self, birth_date: date, female: bool) -> list[str]:
        """Which typed facts disagree with the NIK: subset of ["birth_date", "sex"] in that
        order. birth_date compares day, month and year % 100."""
        wrong = []
        if (birth_date.day, birth_date.month, birth_date.year % 100) != (
            self.day,
            self.month,
            self.year_2digit,
        ):
            wrong.append("birth_date")
        if female != self.female:
            wrong.append("sex")
        return wrong

    def masked(self) -> str:
        """'3528********0001': first 4 and last 4 digits visible."""
        return self.value[:4] + "*" * max(len(self.value) - 8, 0) + self.value[-4:]

    def __repr__(self) -> str:
        return f"Nik({self.masked()!r})"


def parse_nik(text: str) -> Nik:
    """A 16-digit NIK; spaces, dots and dashes between digit groups are ignored."""
    digits = _clean_numeric(text)
    for sep in " .-":
        digits = digits.replace(sep, "")
    if not _DIGITS.fullmatch(digits):
        raise Invalid("nik_not_digits")
    if len(digits) != 16:
        raise Invalid("nik_length", got=len(digits))
    province = digits[:2]
    if province not in PROVINCE_CODES:
        raise Invalid("nik_province", code=province)
    if digits[2:4] == "00" or digits[4:6] == "00":
        raise Invalid("nik_region")
    day, month, year = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    female = day > 40
    if female:
        day -= 40
    if not 1 <= day <= 31 or not any(
        _real_date(century + year, month, day) for century in _CENTURIES
    ):
        raise Invalid("nik_date")
    if digits[12:] == "0000":
        raise Invalid("nik_serial")
    return Nik(
        value=digits, region=digits[:6], day=day, month=month, year_2digit=year, female=female
    )


# --------------------------------------------------------------------------- dates

_SEP = r"(?: ?[-/.,] ?| )"
_ISO = re.compile(r"([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})")
_NUMERIC_DMY = re.compile(rf"([0-9]{{1,2}}){_SEP}([0-9]{{1,2}}){_SEP}([0-9]+)")
_NAMED_DMY = re.compile(rf"([0-9]{{1,2}}){_SEP}?([A-Za-z]+)\.?{_SEP}?([0-9]+)")
_NAMED_MDY = re.compile(rf"([A-Za-z]+)\.?{_SEP}?([0-9]{{1,2}}){_SEP}([0-9]+)")


def _years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 Feb for 29 Feb in a common year)."""
    year = day.year - years
    if year < MINYEAR:
        return date.min
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def _read_date(cleaned: str) -> tuple[str, str | int, str]:
    """Split a cleaned date into (day, month, year) strings; month may already be a number."""
    if match := _ISO.fullmatch(cleaned):
        year, month, day = match.groups()
        return day, month, year
    if match := _NUMERIC_DMY.fullmatch(cleaned):
        day, month, year = match.groups()
        return day, month, year
    match = _NAMED_DMY.fullmatch(cleaned)
    if match:
        day, name, year = match.groups()
    elif match := _NAMED_MDY.fullmatch(cleaned):
        name, day, year = match.groups()
    else:
        raise Invalid("date_format")
    number = month_number(name)
    if number is None:
        raise Invalid("date_format")
    return day, number, year


def parse_date(text: str, today: date) -> date:
    """A birth date, day first (17-08-1995, 17/8/1995, 17 Agustus 1995, 17-Agu-1995 ...), or
    ISO 1995-08-17, or month first with a month name (Aug 17, 1995); 4-digit year."""
    cleaned = _clean_numeric(text)
    day, month, year = _read_date(cleaned)
    if len(year) != 4:
        raise Invalid("date_year_digits")
    born = _real_date(int(year), int(month), int(day))
    if born is None:
        raise Invalid("date_invalid", text=cleaned)
    if born > today:
        raise Invalid("date_future")
    if born < _years_before(today, 100):
        raise Invalid("date_too_old")
    return born


def age_on(birth: date, on: date) -> int:
    """Completed years between `birth` and `on` (a 29 Feb birthday completes on 1 Mar)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --------------------------------------------------------------------------- phone

_PHONE_SEPARATORS = str.maketrans(dict.fromkeys(" -.()"))


def parse_phone(text: str) -> str:
    """An Indonesian mobile number as E.164 (+628...): prefixes +62, 62, 0062, 0 or a bare 8."""
    compact = _clean_numeric(text).translate(_PHONE_SEPARATORS)
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not _DIGITS.fullmatch(digits):
        raise Invalid("phone_chars")
    if plus and not digits.startswith("62"):
        raise Invalid("phone_not_mobile")
    for prefix in ("62",) if plus else ("0062", "62", "0"):
        if digits.startswith(prefix):
            national = digits[len(prefix) :]
            if prefix != "0" and national.startswith("08"):
                national = national[1:]  # "+62 0812...": the trunk 0 typed after the country code
            break
    else:
        national = digits
    if not national:
        raise Invalid("phone_length", got=0)
    if not national.startswith("8"):
        raise Invalid("phone_not_mobile")
    if not 9 <= len(national) <= 12:
        raise Invalid("phone_length", got=len(national))
    return "+62" + national


# --------------------------------------------------------------------------- e-mail


def parse_email(text: str) -> str:
    """An e-mail address (syntax only, no DNS look-up), in email_validator's normalised form."""
    cleaned = clean_text(text)
    if not cleaned or len(cleaned) > 254:
        raise Invalid("email_invalid")
    try:
        result = validate_email(cleaned, check_deliverability=False)
    except ValueError as exc:  # EmailNotValidError, and any UnicodeError from IDNA
        raise Invalid("email_invalid") from exc
    normalized: str = result.normalized
    if len(normalized) > 254:
        raise Invalid("email_invalid")
    return normalized


# --------------------------------------------------------------------------- yes / no

# fmt: off
YES_WORDS = frozenset({
    "ya", "iya", "y", "yes", "ok", "oke", "setuju", "benar", "betul", "punya", "pernah", "sudah",
    "bisa", "mampu", "bersedia",
})
NO_WORDS = frozenset({
    "tidak", "tdk", "gak", "ga", "nggak", "enggak", "no", "n", "belum", "tak", "bukan",
})
# fmt: on


def parse_yes_no(text: str) -> bool | None:
    """True for a yes word (ya, iya, ok, bersedia ...), False for a no word (tidak, belum ...),
    None for anything else; case and surrounding punctuation are ignored."""
    word = clean_text(text).lower()
    start, end = 0, len(word)
    while start < end and not word[start].isalnum():
        start += 1
    while end > start and not word[end - 1].isalnum():
        end -= 1
    word = word[start:end]
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    return None
