"""Tests for core.validation: examples for every format and refusal code, plus properties."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.validation import (
    Invalid,
    Nik,
    age_on,
    clean_text,
    parse_address,
    parse_date,
    parse_email,
    parse_name,
    parse_nik,
    parse_phone,
    parse_place,
    parse_yes_no,
)

TODAY = date(2023, 11, 10)
FAST = settings(max_examples=200, deadline=None)

# fmt: off
PROVINCES = [
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35",
    "36", "51", "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76",
    "81", "82", "91", "92", "93", "94", "95", "96",
]
# fmt: on


def refusal(call: Callable[[], object]) -> Invalid:
    """Run `call`, expecting an Invalid; return it."""
    with pytest.raises(Invalid) as info:
        call()
    return info.value


# --------------------------------------------------------------------------- Invalid, clean_text


def test_invalid_carries_code_and_params() -> None:
    error = Invalid("nik_province", code="99")
    assert isinstance(error, ValueError)
    assert error.code == "nik_province"
    assert error.params == {"code": "99"}
    assert str(error) == "nik_province"
    assert "nik_province" in repr(error)


def test_invalid_without_params() -> None:
    error = Invalid("date_format")
    assert error.params == {}


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  Budi   Santoso \n", "Budi Santoso"),
        ("\tJl.\u00a0Merdeka\r\nNo. 5  ", "Jl. Merdeka No. 5"),
        ("\u202a+62 812\u202c", "+62 812"),  # bidi marks pasted from WhatsApp
        ("Bu\u200bdi", "Budi"),  # zero-width space
        ("a\x00b", "a b"),  # control characters act as whitespace
        ("Jose\u0301", "José"),  # NFC
        ("", ""),
        ("   ", ""),
    ],
)
def test_clean_text(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


@FAST
@given(st.text())
def test_clean_text_is_idempotent_and_tidy(text: str) -> None:
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned


# --------------------------------------------------------------------------- names and places


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Budi Santoso", "Budi Santoso"),
        ("  budi   santoso ", "Budi Santoso"),
        ("BUDI SANTOSO", "Budi Santoso"),
        ("budi SANTOSO", "budi SANTOSO"),  # mixed case is kept as typed
        ("McDonald", "McDonald"),
        ("ma'ruf amin", "Ma'ruf Amin"),
        ("Ma’ruf Amin", "Ma'ruf Amin"),  # typographic apostrophe
        ("m. yusuf al-fatih", "M. Yusuf Al-Fatih"),
        ("Sutrisno, S.Pd.", "Sutrisno, S.Pd."),
        ("ÉLODIE", "Élodie"),
        ("Ab", "Ab"),
        ("x" * 80, "X" + "x" * 79),
    ],
)
def test_parse_name_accepts(raw: str, expected: str) -> None:
    assert parse_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code", "params"),
    [
        ("", "name_too_short", {}),
        ("  A ", "name_too_short", {}),
        ("A.", "name_too_short", {}),
        ("-- ..", "name_too_short", {}),
        ("a" * 81, "name_too_long", {"max": 80}),
        ("Budi 2", "name_chars", {}),
        ("Budi_Santoso", "name_chars", {}),
        ("Budi (Andi)", "name_chars", {}),
        ("Budi 😀", "name_chars", {}),
        ("budi@mail.com", "name_chars", {}),
    ],
)
def test_parse_name_refuses(raw: str, code: str, params: dict[str, object]) -> None:
    error = refusal(lambda: parse_name(raw))
    assert error.code == code
    assert error.params == params


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Surabaya", "Surabaya"),
        ("kab. bandung (jawa barat)", "Kab. Bandung (Jawa Barat)"),
        ("TANJUNG PINANG", "Tanjung Pinang"),
        ("Pangkal-Pinang", "Pangkal-Pinang"),
        ("Bau-bau", "Bau-bau"),
        ("  ambon ", "Ambon"),
    ],
)
def test_parse_place_accepts(raw: str, expected: str) -> None:
    assert parse_place(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code", "params"),
    [
        ("J", "place_too_short", {}),
        ("( )", "place_too_short", {}),
        ("a" * 61, "place_too_long", {"max": 60}),
        ("Kota 2", "place_chars", {}),
        ("Bandung/Cimahi", "place_chars", {}),
    ],
)
def test_parse_place_refuses(raw: str, code: str, params: dict[str, object]) -> None:
    error = refusal(lambda: parse_place(raw))
    assert error.code == code
    assert error.params == params


def test_parse_place_length_limits() -> None:
    assert parse_place("Ab") == "Ab"
    assert len(parse_place("a" * 60)) == 60


# --------------------------------------------------------------------------- address


def test_parse_address_accepts_and_cleans() -> None:
    assert parse_address("  Jl. Merdeka   No. 5,\nBangkalan ") == "Jl. Merdeka No. 5, Bangkalan"
    assert parse_address("Jln Abc 12") == "Jln Abc 12"  # exactly 10 characters
    assert len(parse_address("a" * 300)) == 300


@pytest.mark.parametrize(
    ("raw", "code", "params"),
    [
        ("Jl. Abc 1", "address_too_short", {"min": 10}),
        ("", "address_too_short", {"min": 10}),
        ("12345 67890 / 11", "address_too_short", {"min": 10}),  # fewer than 3 letters
        ("ab 123456789", "address_too_short", {"min": 10}),
        ("a" * 301, "address_too_long", {"max": 300}),
    ],
)
def test_parse_address_refuses(raw: str, code: str, params: dict[str, object]) -> None:
    error = refusal(lambda: parse_address(raw))
    assert error.code == code
    assert error.params == params


# --------------------------------------------------------------------------- NIK


@pytest.mark.parametrize(
    "raw",
    [
        "3528054108950001",
        "3528 0541 0895 0001",
        "35.28.05.410895.0001",
        "3528-05-410895-0001",
        "  35 28 05 41 08 95 0001 ",
        "3528 - 05 . 410895 0001",
        "３５２８０５４１０８９５０００１",  # full-width digits
    ],
)
def test_parse_nik_separators(raw: str) -> None:
    nik = parse_nik(raw)
    assert nik == Nik(
        value="3528054108950001",
        region="352805",
        day=1,
        month=8,
        year_2digit=95,
        female=True,
    )
    assert nik.birth_date(TODAY) == date(1995, 8, 1)
    assert nik.masked() == "3528********0001"
    assert "0541" not in repr(nik)


def test_parse_nik_male() -> None:
    nik = parse_nik("3171011708450123")
    assert (nik.day, nik.month, nik.year_2digit, nik.female) == (17, 8, 45, False)
    assert nik.region == "317101"
    assert nik.birth_date(TODAY) == date(1945, 8, 17)


@pytest.mark.parametrize(
    ("raw", "code", "params"),
    [
        ("3528O54108950001", "nik_not_digits", {}),  # letter O
        ("3528/0541/0895/0001", "nik_not_digits", {}),
        ("NIK 3528054108950001", "nik_not_digits", {}),
        ("٣٥٢٨٠٥٤١٠٨٩٥٠٠٠١", "nik_not_digits", {}),  # Arabic-Indic digits
        ("", "nik_length", {"got": 0}),
        ("352805410895000", "nik_length", {"got": 15}),
        ("3528 0541 0895 00011", "nik_length", {"got": 17}),
        ("9928054108950001", "nik_province", {"code": "99"}),
        ("2028054108950001", "nik_province", {"code": "20"}),
        ("0028054108950001", "nik_province", {"code": "00"}),
        ("3500054108950001", "nik_region", {}),
        ("3528004108950001", "nik_region", {}),
        ("3528050008950001", "nik_date", {}),  # day 00
        ("3528053208950001", "nik_date", {}),  # day 32
        ("3528054008950001", "nik_date", {}),  # day 40 (female day 0)
        ("3528057208950001", "nik_date", {}),  # female day 32
        ("3528051700950001", "nik_date", {}),  # month 00
        ("3528051713950001", "nik_date", {}),  # month 13
        ("3528053104950001", "nik_date", {}),  # 31 April
        ("3528057104950001", "nik_date", {}),  # female 31 April
        ("3528052902950001", "nik_date", {}),  # 29 Feb 1995/2095: never a leap year
        ("3528053002000001", "nik_date", {}),  # 30 Feb
        ("3528051708950000", "nik_serial", {}),
    ],
)
def test_parse_nik_refuses(raw: str, code: str, params: dict[str, object]) -> None:
    error = refusal(lambda: parse_nik(raw))
    assert error.code == code
    assert error.params == params


@pytest.mark.parametrize("province", PROVINCES)
def test_parse_nik_every_province(province: str) -> None:
    assert parse_nik(f"{province}01011708950001").region == f"{province}0101"


def test_parse_nik_leap_day() -> None:
    # 29 Feb 00 is valid in 2000; 29 Feb 96 in 1996; 29 Feb 04 in 2004.
    assert parse_nik("3528052902000001").birth_date(TODAY) == date(2000, 2, 29)
    assert parse_nik("3528056902960001").birth_date(TODAY) == date(1996, 2, 29)
    assert parse_nik("3528052902040001").birth_date(TODAY) == date(2004, 2, 29)


def test_nik_birth_date_century() -> None:
    nik = parse_nik("3528051011230001")  # 10 Nov 23
    assert nik.birth_date(TODAY) == date(2023, 11, 10)  # today itself is not "after today"
    later = parse_nik("3528051111230001")  # 11 Nov 23: tomorrow in 2023, so 1923
    assert later.birth_date(TODAY) == date(1923, 11, 11)
    old = parse_nik("3528053112990001")
    assert old.birth_date(TODAY) == date(1999, 12, 31)


def test_nik_birth_date_none() -> None:
    # 29 Feb 00: 2000-02-29 is after this "today", and 1900-02-29 does not exist.
    nik = parse_nik("3528052902000001")
    assert nik.birth_date(date(1999, 6, 1)) is None
    assert nik.birth_date(date(2000, 2, 28)) is None
    assert nik.birth_date(date(2000, 2, 29)) == date(2000, 2, 29)


def test_nik_mismatches() -> None:
    nik = parse_nik("3528054108950001")  # woman, 1 Aug 95
    assert nik.mismatches(date(1995, 8, 1), female=True) == []
    assert nik.mismatches(date(1895, 8, 1), female=True) == []  # only year % 100 is compared
    assert nik.mismatches(date(1995, 8, 1), female=False) == ["sex"]
    assert nik.mismatches(date(1995, 1, 8), female=True) == ["birth_date"]
    assert nik.mismatches(date(1996, 8, 1), female=True) == ["birth_date"]
    assert nik.mismatches(date(1995, 8, 2), female=False) == ["birth_date", "sex"]


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "raw",
    [
        "17-08-1995",
        "17/8/1995",
        "17/08/1995",
        "17.08.1995",
        "17 8 1995",
        "17 08 1995",
        " 17 - 08 - 1995 ",
        "17–08–1995",  # en dash
        "1995-08-17",
        "1995-8-17",
        "1995/08/17",
        "17 Agustus 1995",
        "17 agustus 1995",
        "17 AGUSTUS 1995",
        "17 Agt 1995",
        "17 Agt. 1995",
        "17 agu 1995",
        "17 Ags 1995",
        "17-Agu-1995",
        "17-Agu.-1995",
        "17.Agt.1995",
        "17/aug/1995",
        "17 August 1995",
        "17 Aug 1995",
        "17 Aug, 1995",
        "17Agustus1995",
        "Aug 17, 1995",
        "August 17, 1995",
        "Aug. 17 1995",
        "Agustus 17, 1995",
        "１７-０８-１９９５",  # full-width digits
    ],
)
def test_parse_date_formats(raw: str) -> None:
    assert parse_date(raw, TODAY) == date(1995, 8, 17)


@pytest.mark.parametrize(
    ("raw", "month"),
    [
        ("Januari", 1), ("Jan", 1), ("January", 1),
        ("Februari", 2), ("Pebruari", 2), ("Feb", 2), ("Peb", 2), ("February", 2),
        ("Maret", 3), ("Mar", 3), ("March", 3),
        ("April", 4), ("Apr", 4),
        ("Mei", 5), ("May", 5),
        ("Juni", 6), ("Jun", 6), ("June", 6),
        ("Juli", 7), ("Jul", 7), ("July", 7),
        ("Agustus", 8), ("Agu", 8), ("Agt", 8), ("Ags", 8), ("August", 8), ("Aug", 8),
        ("September", 9), ("Sep", 9), ("Sept", 9), ("sept.", 9),
        ("Oktober", 10), ("Okt", 10), ("October", 10), ("Oct", 10),
        ("November", 11), ("Nopember", 11), ("Nov", 11), ("Nop", 11),
        ("Desember", 12), ("Des", 12), ("December", 12), ("Dec", 12),
    ],
)  # fmt: skip
def test_parse_date_month_names(raw: str, month: int) -> None:
    assert parse_date(f"5 {raw} 1990", TODAY) == date(1990, month, 5)
    assert parse_date(f"5 {raw.upper()} 1990", TODAY) == date(1990, month, 5)


def test_parse_date_day_first() -> None:
    assert parse_date("03-04-2001", TODAY) == date(2001, 4, 3)
    assert parse_date("2001-04-03", TODAY) == date(2001, 4, 3)


@pytest.mark.parametrize(
    ("raw", "code", "params"),
    [
        ("", "date_format", {}),
        ("kemarin", "date_format", {}),
        ("17 Foo 1995", "date_format", {}),
        ("17 Agustusan 1995", "date_format", {}),
        ("17081995", "date_format", {}),
        ("17-08", "date_format", {}),
        ("17-08-1995-1", "date_format", {}),
        ("17 ۸ 1995", "date_format", {}),  # Persian digit
        ("17-08-95", "date_year_digits", {}),
        ("17/8/95", "date_year_digits", {}),
        ("17 Agustus 95", "date_year_digits", {}),
        ("Aug 17, 95", "date_year_digits", {}),
        ("17-08-19955", "date_year_digits", {}),
        ("31-02-1995", "date_invalid", {"text": "31-02-1995"}),
        ("  31 / 02 / 1995 ", "date_invalid", {"text": "31 / 02 / 1995"}),
        ("29 Februari 1995", "date_invalid", {"text": "29 Februari 1995"}),
        ("17-13-1995", "date_invalid", {"text": "17-13-1995"}),
        ("00-08-1995", "date_invalid", {"text": "00-08-1995"}),
        ("1995-02-30", "date_invalid", {"text": "1995-02-30"}),
        ("17-08-0000", "date_invalid", {"text": "17-08-0000"}),
        ("11-11-2023", "date_future", {}),
        ("01-01-2095", "date_future", {}),
        ("09-11-1923", "date_too_old", {}),
        ("01-01-0001", "date_too_old", {}),
    ],
)
def test_parse_date_refuses(raw: str, code: str, params: dict[str, object]) -> None:
    error = refusal(lambda: parse_date(raw, TODAY))
    assert error.code == code
    assert error.params == params


def test_parse_date_bounds() -> None:
    assert parse_date("10-11-2023", TODAY) == TODAY
    assert parse_date("10-11-1923", TODAY) == date(1923, 11, 10)  # exactly 100 years
    assert parse_date("29-02-2000", TODAY) == date(2000, 2, 29)
    leap_today = date(2000, 2, 29)  # 1900 is not a leap year: the limit is 28 Feb 1900
    assert parse_date("28-02-1900", leap_today) == date(1900, 2, 28)
    assert refusal(lambda: parse_date("27-02-1900", leap_today)).code == "date_too_old"


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(1995, 8, 17), date(2023, 11, 10), 28),
        (date(1995, 11, 10), date(2023, 11, 10), 28),
        (date(1995, 11, 11), date(2023, 11, 10), 27),
        (date(2000, 2, 29), date(2023, 2, 28), 22),
        (date(2000, 2, 29), date(2023, 3, 1), 23),
        (date(2000, 2, 29), date(2024, 2, 29), 24),
        (date(2023, 11, 10), date(2023, 11, 10), 0),
    ],
)
def test_age_on(birth: date, on: date, age: int) -> None:
    assert age_on(birth, on) == age


# --------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0812-3456-789", "+628123456789"),
        ("0812 3456 7890", "+6281234567890"),
        ("0812 3456 78901", "+62812345678901"),
        ("+62 812 3456 789", "+628123456789"),
        ("+62-812-3456-789", "+628123456789"),
        ("62 812 3456 789", "+628123456789"),
        ("0062 812 3456 789", "+628123456789"),
        ("812 3456 789", "+628123456789"),
        ("(0812) 3456.789", "+628123456789"),
        ("(+62) 812-3456-789", "+628123456789"),
        ("+62 0812 3456 789", "+628123456789"),  # trunk 0 typed after the country code
        ("\u202a+62 812\u20113456\u2011789\u202c", "+628123456789"),  # copied from WhatsApp
        ("０８１２３４５６７８９", "+628123456789"),  # full-width digits
        ("0812345678", "+62812345678"),  # shortest: 9 national digits
    ],
)
def test_parse_phone_accepts(raw: str, expected: str) -> None:
    assert parse_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code", "params"),
    [
        ("0812-3456-789a", "phone_chars", {}),
        ("nomor saya 08123456789", "phone_chars", {}),
        ("0812/3456/789", "phone_chars", {}),
        ("0812 3456 789 +", "phone_chars", {}),
        ("62+812345678", "phone_chars", {}),
        ("0324 123456", "phone_not_mobile", {}),
        ("(021) 3841195", "phone_not_mobile", {}),
        ("+1 555 123 4567", "phone_not_mobile", {}),
        ("+44 7911 123456", "phone_not_mobile", {}),
        ("001 555 1234567", "phone_not_mobile", {}),
        ("12345678901", "phone_not_mobile", {}),
        ("", "phone_length", {"got": 0}),
        ("+62", "phone_length", {"got": 0}),
        ("0812345", "phone_length", {"got": 6}),
        ("08123456", "phone_length", {"got": 7}),
        ("081234567", "phone_length", {"got": 8}),
        ("0812 3456 789012", "phone_length", {"got": 13}),
        ("+62 812 3456 789012", "phone_length", {"got": 13}),
    ],
)
def test_parse_phone_refuses(raw: str, code: str, params: dict[str, object]) -> None:
    error = refusal(lambda: parse_phone(raw))
    assert error.code == code
    assert error.params == params


# --------------------------------------------------------------------------- e-mail


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("budi.santoso@gmail.com", "budi.santoso@gmail.com"),
        ("  Budi.Santoso@GMAIL.COM ", "Budi.Santoso@gmail.com"),
        ("budi+bps@bps.go.id", "budi+bps@bps.go.id"),
    ],
)
def test_parse_email_accepts(raw: str, expected: str) -> None:
    assert parse_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "budi",
        "budi@",
        "@gmail.com",
        "budi@gmail",
        "budi santoso@gmail.com",
        "budi@@gmail.com",
        "budi@localhost",
        "a" * 250 + "@gmail.com",
        "x@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".com",
    ],
)
def test_parse_email_refuses(raw: str) -> None:
    error = refusal(lambda: parse_email(raw))
    assert error.code == "email_invalid"
    assert error.params == {}


# --------------------------------------------------------------------------- yes / no

# fmt: off
YES = [
    "ya", "iya", "y", "yes", "ok", "oke", "setuju", "benar", "betul", "punya", "pernah", "sudah",
    "bisa", "mampu", "bersedia",
]
NO = ["tidak", "tdk", "gak", "ga", "nggak", "enggak", "no", "n", "belum", "tak", "bukan"]
# fmt: on


@pytest.mark.parametrize("word", YES)
def test_parse_yes_no_yes(word: str) -> None:
    assert parse_yes_no(word) is True
    assert parse_yes_no(f" {word.upper()}. ") is True
    assert parse_yes_no(f"{word.title()}!") is True


@pytest.mark.parametrize("word", NO)
def test_parse_yes_no_no(word: str) -> None:
    assert parse_yes_no(word) is False
    assert parse_yes_no(f" {word.upper()}! ") is False
    assert parse_yes_no(f"({word.title()})") is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Ya.", True), ("Tidak!", False), ("...ok...", True), ("Belum?", False)],
)
def test_parse_yes_no_punctuation(raw: str, expected: bool) -> None:
    assert parse_yes_no(raw) is expected


@pytest.mark.parametrize("raw", ["", "   ", "?!", "mungkin", "ya tidak", "yaa ", "1", "yes no"])
def test_parse_yes_no_unknown(raw: str) -> None:
    assert parse_yes_no(raw) is None


# --------------------------------------------------------------------------- properties

NIK_SEPARATORS = st.sampled_from(["", "", "", "", " ", ".", "-", " - ", "  "])


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 Feb
        return day.replace(year=day.year - years, day=28)


@st.composite
def nik_parts(draw: st.DrawFn) -> tuple[str, date, bool]:
    """A valid NIK's 16 digits, with the birth date (within the last 99 years) and sex."""
    province = draw(st.sampled_from(PROVINCES))
    regency = draw(st.integers(1, 99))
    district = draw(st.integers(1, 99))
    born = draw(st.dates(min_value=years_before(TODAY, 99) + timedelta(days=1), max_value=TODAY))
    female = draw(st.booleans())
    serial = draw(st.integers(1, 9999))
    day = born.day + 40 if female else born.day
    digits = (
        f"{province}{regency:02d}{district:02d}"
        f"{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"
    )
    return digits, born, female


@FAST
@given(nik_parts(), st.lists(NIK_SEPARATORS, min_size=17, max_size=17))
def test_property_nik_round_trip(parts: tuple[str, date, bool], separators: list[str]) -> None:
    digits, born, female = parts
    typed = separators[0] + "".join(d + s for d, s in zip(digits, separators[1:], strict=True))
    nik = parse_nik(typed)
    assert nik.value == digits
    assert nik.region == digits[:6]
    assert (nik.day, nik.month, nik.year_2digit, nik.female) == (
        born.day,
        born.month,
        born.year % 100,
        female,
    )
    assert nik.birth_date(TODAY) == born
    assert nik.mismatches(born, female) == []
    assert nik.mismatches(born, not female) == ["sex"]
    assert nik.masked() == digits[:4] + "********" + digits[-4:]


@FAST
@given(nik_parts(), st.dates(min_value=date(1920, 1, 1), max_value=TODAY), st.booleans())
def test_property_nik_mismatches(
    parts: tuple[str, date, bool], other: date, other_female: bool
) -> None:
    digits, born, female = parts
    nik = parse_nik(digits)
    expected = []
    if (other.day, other.month, other.year % 100) != (born.day, born.month, born.year % 100):
        expected.append("birth_date")
    if other_female != female:
        expected.append("sex")
    assert nik.mismatches(other, other_female) == expected


@FAST
@given(st.text(alphabet="0123456789", max_size=40).filter(lambda s: len(s) != 16))
def test_property_nik_wrong_digit_count(digits: str) -> None:
    error = refusal(lambda: parse_nik(digits))
    assert error.code == "nik_length"
    assert error.params == {"got": len(digits)}


def nik_digits_typed(text: str) -> str:
    """ASCII text without NIK separators; control characters count as spaces."""
    return "".join(ch for ch in text if ch not in " .-" and ch.isprintable())


@FAST
@given(
    st.one_of(
        st.text(st.characters(codec="ascii")),
        st.text(alphabet="0123456789 .-/xO", max_size=30),
    ).filter(lambda s: not (len(nik_digits_typed(s)) == 16 and nik_digits_typed(s).isdigit()))
)
def test_property_nik_not_sixteen_digits(text: str) -> None:
    error = refusal(lambda: parse_nik(text))
    assert error.code in {"nik_length", "nik_not_digits"}


MONTH_NAMES = {
    1: ["Januari", "January", "Jan"],
    2: ["Februari", "Pebruari", "February", "Feb", "Peb"],
    3: ["Maret", "March", "Mar"],
    4: ["April", "Apr"],
    5: ["Mei", "May"],
    6: ["Juni", "June", "Jun"],
    7: ["Juli", "July", "Jul"],
    8: ["Agustus", "August", "Agu", "Agt", "Ags", "Aug"],
    9: ["September", "Sep", "Sept"],
    10: ["Oktober", "October", "Okt", "Oct"],
    11: ["November", "Nopember", "Nov", "Nop"],
    12: ["Desember", "December", "Des", "Dec"],
}
ABBREVIATIONS = {n: [name for name in names if len(name) <= 4] for n, names in MONTH_NAMES.items()}

DATE_FORMATS: list[Callable[[date, str, str], str]] = [
    lambda d, name, abbr: f"{d.day:02d}-{d.month:02d}-{d.year}",
    lambda d, name, abbr: f"{d.day}/{d.month}/{d.year}",
    lambda d, name, abbr: f"{d.day:02d}/{d.month:02d}/{d.year}",
    lambda d, name, abbr: f"{d.day:02d}.{d.month:02d}.{d.year}",
    lambda d, name, abbr: f"{d.day} {d.month} {d.year}",
    lambda d, name, abbr: f"{d.year}-{d.month:02d}-{d.day:02d}",
    lambda d, name, abbr: f"{d.day} {name} {d.year}",
    lambda d, name, abbr: f"{d.day:02d} {abbr} {d.year}",
    lambda d, name, abbr: f"{d.day} {abbr}. {d.year}",
    lambda d, name, abbr: f"{d.day:02d}-{abbr}-{d.year}",
    lambda d, name, abbr: f"{name} {d.day}, {d.year}",
    lambda d, name, abbr: f"{abbr}. {d.day}, {d.year}",
]


@FAST
@given(
    st.dates(min_value=years_before(TODAY, 100), max_value=TODAY),
    st.data(),
)
def test_property_date_round_trip(born: date, data: st.DataObject) -> None:
    case = data.draw(st.sampled_from([str.lower, str.upper, str.title, str]))
    name = case(data.draw(st.sampled_from(MONTH_NAMES[born.month])))
    abbr = case(data.draw(st.sampled_from(ABBREVIATIONS[born.month])))
    padding = data.draw(st.sampled_from(["", " ", "  ", "\t"]))
    for form in DATE_FORMATS:
        typed = padding + form(born, name, abbr) + padding
        assert parse_date(typed, TODAY) == born, typed


PHONE_PREFIXES = ["+62", "62", "0062", "0", "", "+62 0", "(+62) ", "+62-", "(0"]
PHONE_SEPARATORS = st.sampled_from(["", "", "", "", " ", "-", ".", " - "])


@FAST
@given(
    st.text(alphabet="0123456789", min_size=8, max_size=11),
    st.sampled_from(PHONE_PREFIXES),
    st.lists(PHONE_SEPARATORS, min_size=13, max_size=13),
)
def test_property_phone_normalises(rest: str, prefix: str, separators: list[str]) -> None:
    national = "8" + rest
    spaced = "".join(d + s for d, s in zip(national, separators, strict=False))
    typed = f"(0{spaced[:3]}) {spaced[3:]}" if prefix == "(0" else prefix + spaced
    assert parse_phone(typed) == "+62" + national
    assert parse_phone(f" {typed} ") == "+62" + national


PARSERS: list[Callable[[str], object]] = [
    parse_name,
    parse_place,
    parse_address,
    parse_nik,
    lambda text: parse_date(text, TODAY),
    parse_phone,
    parse_email,
    parse_yes_no,
]
TRICKY_ALPHABET = "0123456789 +-./(),'@_\u2013\u2019\u202aAgustusJanDesOkt\u00e9\u0301\x00\n"


@FAST
@pytest.mark.parametrize("parser", PARSERS)
@given(
    text=st.one_of(
        st.text(),
        st.text(alphabet=TRICKY_ALPHABET, max_size=40),
        st.text(alphabet="0123456789 -.", min_size=10, max_size=25),
    )
)
def test_property_only_invalid_escapes(parser: Callable[[str], object], text: str) -> None:
    try:
        parser(text)
    except Invalid as error:
        assert isinstance(error.code, str) and error.code
        assert isinstance(error.params, dict)


@FAST
@given(st.text())
def test_property_names_and_places_stay_valid(text: str) -> None:
    for parser in (parse_name, parse_place):
        try:
            value = parser(text)
        except Invalid:
            continue
        assert parser(value) == value  # a stored answer passes its own check unchanged
        assert 2 <= len(value) <= (80 if parser is parse_name else 60)
        assert not any(ch.isdigit() for ch in value)
