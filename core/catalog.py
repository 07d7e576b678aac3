"""Message catalogs: every text a user reads, in Indonesian (default) and English."""

from __future__ import annotations

import string
from pathlib import Path

import yaml

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
TITLE_SUFFIX = "_title"
"""Suffix of a button label's short variant (WhatsApp list rows fit 24 characters)."""


class Catalog:
    """Texts by language and key; English falls back to Indonesian where a key is missing."""

    def __init__(self, messages: dict[str, dict[str, str]]) -> None:
        self.messages = messages

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR) -> Catalog:
        """Read `<language>.yaml` for every supported language."""
        messages = {}
        for language in LANGUAGES:
            with (directory / f"{language}.yaml").open(encoding="utf-8") as handle:
                messages[language] = yaml.safe_load(handle)
        return cls(messages)

    def text(self, language: str, key: str, **params: object) -> str:
        """The text for `key` in `language`, with `{placeholders}` filled from `params`."""
        template = self.messages.get(language, {}).get(key)
        if template is None:
            template = self.messages[DEFAULT_LANGUAGE][key]
        return template.format(**params)

    def short(self, language: str, key: str, **params: object) -> str | None:
        """The short variant of a button label (`<key>_title`), when the catalog has one."""
        if f"{key}{TITLE_SUFFIX}" not in self.messages[DEFAULT_LANGUAGE]:
            return None
        return self.text(language, f"{key}{TITLE_SUFFIX}", **params)

    def placeholders(self, language: str, key: str) -> set[str]:
        """The names of the placeholders a text expects (for catalog consistency checks)."""
        template = self.messages[language][key]
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}
