"""Message catalogs: both languages complete, placeholders consistent, every used key present."""

from __future__ import annotations

import re
from pathlib import Path

from core import validation
from core.catalog import LANGUAGES, TITLE_SUFFIX, Catalog
from handlers.applicant.menu import MENU_ITEMS
from handlers.profile import FIELDS

ROOT = Path(__file__).resolve().parent.parent
CODE = ("core", "services", "handlers", "scheduler", "bot")


def _source() -> str:
    """All product code, where catalog keys are named."""
    return "\n".join(path.read_text() for folder in CODE for path in (ROOT / folder).rglob("*.py"))


def test_both_languages_have_the_same_keys_and_placeholders(catalog: Catalog) -> None:
    indonesian, english = catalog.messages["id"], catalog.messages["en"]
    assert set(indonesian) == set(english)
    for key in indonesian:
        assert catalog.placeholders("id", key) == catalog.placeholders("en", key), key


def test_every_key_named_in_the_code_exists(catalog: Catalog) -> None:
    source = _source()
    literal_keys = set(re.findall(r'\.t\(\s*"([a-z_]+)"', source))
    literal_keys |= set(re.findall(r'\.button\(\s*[^,]+,\s*"([a-z_]+)"', source))
    literal_keys |= set(re.findall(r'catalog\.text\([^,]+,\s*"([a-z_]+)"', source))
    assert len(literal_keys) > 50
    for language in LANGUAGES:
        missing = literal_keys - set(catalog.messages[language])
        assert not missing, (language, missing)


def test_every_field_and_refusal_has_its_texts(catalog: Catalog) -> None:
    table = re.findall(r"^([a-z_]+)\s{2,}", validation.__doc__ or "", flags=re.MULTILINE)
    codes = [code for code in table if code != "code"]  # the table's header
    assert "nik_length" in codes and "email_invalid" in codes
    keys = {f"invalid_{code}" for code in [*codes, "nik_taken"]}
    keys |= {f"ask_{spec.name}" for spec in FIELDS} | {f"field_{spec.name}" for spec in FIELDS}
    for language in LANGUAGES:
        assert keys <= set(catalog.messages[language]), keys - set(catalog.messages[language])


MENU_KEYS = {
    f"menu_{item}"
    for item in (
        "register_start",
        "register_continue",
        "register_view",
        *MENU_ITEMS,
    )
}
WHATSAPP_ROW_TITLE = 24
QUOTED_NOT_BUTTONS = {"Hasil", "Status", "stuck"}  # column headers; a state staff read


def _button_keys() -> set[str]:
    keys = set(re.findall(r'\.button\(\s*[^,]+,\s*"([a-z_]+)"', _source()))
    return keys | MENU_KEYS | {f"field_{spec.name}" for spec in FIELDS}


def _filled(template: str) -> str:
    """A text with every placeholder at its widest plausible value (a 4-digit number)."""
    return re.sub(r"\{[a-z_]+\}", "9999", template)


def test_every_button_has_a_title_that_fits_a_whatsapp_row(catalog: Catalog) -> None:
    keys = _button_keys()
    assert {"menu_sobat", "field_experience", "res_publish"} <= keys
    for language in LANGUAGES:
        messages = catalog.messages[language]
        for key in keys:
            title = messages.get(f"{key}{TITLE_SUFFIX}", messages[key])
            assert len(_filled(title)) <= WHATSAPP_ROW_TITLE, (language, key, title)


def test_every_short_title_belongs_to_a_text(catalog: Catalog) -> None:
    for language in LANGUAGES:
        titles = [key for key in catalog.messages[language] if key.endswith(TITLE_SUFFIX)]
        assert titles
        for key in titles:
            assert key.removesuffix(TITLE_SUFFIX) in catalog.messages[language], key


def _bare(label: str) -> str:
    """A label without its leading emoji: how texts quote a button."""
    return re.sub(r"^[^\w(]+", "", label).strip()


def test_texts_quote_buttons_exactly_as_the_buttons_say_them(catalog: Catalog) -> None:
    for language in LANGUAGES:
        messages = catalog.messages[language]
        labels = {_bare(text) for text in messages.values() if "\n" not in text}
        for key, text in messages.items():
            for quoted in re.findall(r'"([^"]+)"', text):
                if "{" in quoted or quoted in QUOTED_NOT_BUTTONS:
                    continue
                assert quoted in labels, (language, key, quoted)


def test_one_spelling_of_e_mail(catalog: Catalog) -> None:
    for language in LANGUAGES:
        for key, text in catalog.messages[language].items():
            assert not re.search(r"(?<![-{])\bemail\b", text, re.IGNORECASE), (language, key)
