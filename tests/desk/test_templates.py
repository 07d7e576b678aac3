"""The desk names only texts the catalog has, in both languages (templates and code)."""

from __future__ import annotations

import re
from pathlib import Path

from core.catalog import LANGUAGES, Catalog

DESK = Path(__file__).resolve().parents[2] / "bot" / "desk"


def test_every_text_the_desk_names_is_in_the_catalog(catalog: Catalog) -> None:
    named: set[str] = set()
    for template in (DESK / "templates").rglob("*.html"):
        named |= set(re.findall(r"""\bt\(\s*["']([a-z_]*[a-z])["']""", template.read_text()))
    for module in DESK.glob("*.py"):
        source = module.read_text()
        named |= set(re.findall(r'\.t\(\s*"([a-z_]+)"', source))
        for call in re.findall(r"(?:\.error|NavItem)\(([^)]*)\)", source):
            named |= set(re.findall(r'"(desk_[a-z_]+)"', call))
    # named by a prefix and a value: the values they take
    named |= {f"desk_role_{role}" for role in ("admin", "reviewer", "viewer")}
    named |= {f"window_{state}" for state in ("not_yet", "open", "ended", "closed_early")}
    assert {"desk_name", "desk_forbidden_heading", "desk_nav_inbox"} <= named
    for language in LANGUAGES:
        assert not named - set(catalog.messages[language]), language
