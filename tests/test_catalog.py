"""Message catalogs: both languages complete, placeholders consistent, every used key present."""

from __future__ import annotations

import re
from pathlib import Path

from handlers import validation
from handlers.catalog import LANGUAGES, Catalog
from handlers.profile import FIELDS

HANDLERS_DIR = Path(validation.__file__).parent


def test_both_languages_have_the_same_keys_and_placeholders(catalog: Catalog) -> None:
    indonesian, english = catalog.messages["id"], catalog.messages["en"]
    assert set(indonesian) == set(english)
    for key in indonesian:
        assert catalog.placeholders("id", key) == catalog.placeholders("en", key), key


def test_every_key_named_in_the_code_exists(catalog: Catalog) -> None:
    source = "\n".join(path.read_text() for path in HANDLERS_DIR.glob("*.py"))
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
