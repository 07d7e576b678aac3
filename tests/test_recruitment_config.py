"""The recruitment config: the shipped Pamekasan 2024 file, bad files, and another regency."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from core.catalog import Catalog
from core.clock import FrozenClock
from core.recruitment import DEFAULT_CONFIG_PATH, ConfigError, load_recruitment
from handlers.conversation import Conversation
from handlers.flow import Dependencies
from storage.db import Database
from storage.files import FileStore
from tests.chat import Chat


def test_shipped_file_matches_the_announcement() -> None:
    config = load_recruitment()
    assert config.announcement_number == "B-222/35280/PR.130/10/2023"
    assert [item.number for item in config.required_items] == [1, 2, 3, 4, 5, 6, 7, 15]
    assert [item.number for item in config.preferred_items] == [8, 9, 10, 11, 12, 13, 14]
    assert [doc.key for doc in config.documents] == ["photo", "ktp", "diploma"]
    assert [stage.name.id for stage in config.stages] == [
        "Seleksi Administrasi",
        "Tes Kompetensi",
        "Seleksi Akhir",
    ]
    assert config.local(config.schedule.registration_end) == datetime(
        2023, 11, 30, 23, 59, 59, tzinfo=config.tz
    )
    assert config.schedule.announcement.isoformat() == "2023-12-15"
    assert config.schedule.announcement_time is None  # the announcement names no hour
    assert len(config.kecamatan) == 13
    assert config.kecamatan_by_code("35.28.04").bps_code == "3528050"  # Pamekasan


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recruitment.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    source = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").replace("year: 2024", "year: [2024", 1)
    with pytest.raises(ConfigError) as error:
        load_recruitment(_write(tmp_path, source))
    line = source.splitlines().index("year: [2024") + 1
    assert any(
        f":{line}:" in message or f":{line + 1}:" in message for message in error.value.lines
    )


def test_a_wrong_value_names_its_line_and_field(tmp_path: Path) -> None:
    source = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").replace(
        "registration_end: 2023-11-30T23:59:59", "registration_end: tomorrow", 1
    )
    path = _write(tmp_path, source)
    with pytest.raises(ConfigError) as error:
        load_recruitment(path)
    line = next(n for n, text in enumerate(source.splitlines(), 1) if "tomorrow" in text)
    assert error.value.lines[0].startswith(f"{path}:{line}: schedule.registration_end:")


A13 = "Diutamakan memiliki dan mampu mengendarai kendaraan bermotor"


def test_requirement_texts_and_answers_say_what_the_announcement_says() -> None:
    config = load_recruitment()
    texts = {item.number: item.text.id for item in config.requirements}
    assert texts[13] == A13 and "motor vehicle" in (config.requirements[12].text.en or "")
    asn = config.required_items[0]
    assert asn.answers is not None and asn.question is not None
    assert "BUKAN" not in asn.question.id  # no double negative with Ya/Tidak
    labels = [asn.answers.meets, asn.answers.fails]
    assert [label.id for label in labels] == ["Bukan ASN", "Saya ASN (PNS/PPPK)"]
    # Two WhatsApp reply buttons: at most 20 characters each, in both languages.
    assert all(len(label.get(language)) <= 20 for label in labels for language in ("id", "en"))


def test_answer_labels_belong_to_required_items_only(tmp_path: Path) -> None:
    source = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").replace(
        "    check: motorbike\n",
        "    check: motorbike\n    answers: {meets: Punya, fails: Tidak punya}\n",
        1,
    )
    with pytest.raises(ConfigError) as error:
        load_recruitment(_write(tmp_path, source))
    assert "only a required item has 'answers'" in str(error.value)


def test_a_required_item_without_a_question_is_refused(tmp_path: Path) -> None:
    source = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").replace(
        "    question:\n      id: Apakah Anda sehat jasmani dan rohani?\n"
        "      en: Are you physically and mentally healthy?\n",
        "",
        1,
    )
    with pytest.raises(ConfigError) as error:
        load_recruitment(_write(tmp_path, source))
    assert "requirements.1" in str(error.value) and "question" in str(error.value)


def test_dates_out_of_order_and_unknown_keys_are_refused(tmp_path: Path) -> None:
    source = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    swapped = source.replace(
        "registration_end: 2023-11-30T23:59:59", "registration_end: 2023-10-01"
    )
    with pytest.raises(ConfigError, match="registration_end must be after"):
        load_recruitment(_write(tmp_path, swapped))
    with pytest.raises(ConfigError, match="quota_typo"):
        load_recruitment(_write(tmp_path, source + "\nquota_typo: 3\n"))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_recruitment(tmp_path / "nope.yaml")


ANOTHER_REGENCY = {
    "name: Badan Pusat Statistik Kabupaten Pamekasan": (
        "name: Badan Pusat Statistik Kabupaten Sampang"
    ),
    "short_name: BPS Kab. Pamekasan": "short_name: BPS Kab. Sampang",
    "regency_name: Kabupaten Pamekasan": "regency_name: Kabupaten Sampang",
    'regency_code: "3528"': 'regency_code: "3527"',
    "registration_number_prefix: PMK24": "registration_number_prefix: SPG25",
    "registration_start: 2023-11-01T00:00:00": "registration_start: 2024-11-04T08:00:00",
    "registration_end: 2023-11-30T23:59:59": "registration_end: 2024-11-20T23:59:59",
    '  - {code: "35.28.01", bps_code: "3528010", name: Tlanakan}': (
        '  - {code: "35.27.01", bps_code: "3527010", name: Sreseh}'
    ),
}


async def test_another_regency_changes_the_file_not_the_code(tmp_path: Path) -> None:
    source = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    for old, new in ANOTHER_REGENCY.items():
        assert old in source
        source = source.replace(old, new)
    config = load_recruitment(_write(tmp_path, source))
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    await database.upgrade()
    clock = FrozenClock(datetime(2024, 11, 19, 10, 0))
    deps = Dependencies(
        config=config, catalog=Catalog.load(), clock=clock, files=FileStore(tmp_path / "files")
    )
    chat = Chat(Conversation(database, deps), "1")
    await chat.send("/start")
    assert "BPS Kab. Sampang" in chat.text
    await chat.press("menu:schedule")
    assert "4 November 2024" in chat.text and "sisa 1 hari" in chat.text
    await chat.start_registration()
    await chat.pass_eligibility()
    await chat.fill_profile(
        [
            ("text", "Siti Aminah"),
            ("text", "3528015708950003"),
            ("text", "Sampang"),
            ("text", "17-08-1995"),
            ("choice", "f:sex:P"),
            ("text", "Dusun Krajan RT 02 RW 01, Desa Sreseh"),
        ]
    )
    labels = [button.label for button in chat.replies[-1].buttons]
    assert labels[0] == "Sreseh" and labels[-1] == "Luar Kabupaten Sampang"
    await database.dispose()
