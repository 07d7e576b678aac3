"""`mitrabot doctor`: each misconfiguration it names is caught, with its level and exit code, and
it never migrates or creates anything."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from core.recruitment import DEFAULT_CONFIG_PATH
from services.doctor import check_database
from storage.db import Database
from storage.health import schema_state, server_now, shipped_heads
from tests.conftest import _empty_database

TOKEN = "123456789:" + "A" * 35
OPEN_DAY = "2023-11-10T09:00"
WHATSAPP = {
    "MITRABOT_WHATSAPP_PHONE_ID": "1234567890",
    "MITRABOT_WHATSAPP_TOKEN": "EAAtoken",
    "MITRABOT_WHATSAPP_APP_SECRET": "0123456789abcdef0123456789abcdef",
    "MITRABOT_WHATSAPP_VERIFY_TOKEN": "verify-me",
}


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at the newest migration, copied into each test that needs one."""
    import asyncio

    path = tmp_path_factory.mktemp("template") / "mitrabot.db"

    async def upgrade() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.upgrade()
        await db.dispose()

    asyncio.run(upgrade())
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Path:
    """A healthy set-up: a private data folder with a migrated database, a well-formed Telegram
    token for polling, one staff identity, and the clock on a day registration is open."""
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    for name in list(os.environ):
        if name.startswith("MITRABOT_") and name != "MITRABOT_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    data.chmod(0o700)
    shutil.copy(migrated_template, data / "mitrabot.db")
    (data / "mitrabot.db").chmod(0o600)
    monkeypatch.setenv("MITRABOT_DATA_DIR", str(data))
    monkeypatch.setenv("MITRABOT_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("MITRABOT_STAFF", "telegram:42")
    monkeypatch.setenv("MITRABOT_CLOCK_AT", OPEN_DAY)
    return data


def _doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    """Run `mitrabot doctor --json`: the exit code and the findings."""
    code = main(["doctor", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def _levels(findings: list[dict[str, Any]]) -> dict[str, str]:
    """Finding key -> level."""
    return {f["key"]: f["level"] for f in findings}


def _not_ok(findings: list[dict[str, Any]]) -> dict[str, str]:
    return {f["key"]: f["level"] for f in findings if f["level"] != "ok"}


def _recruitment_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> None:
    source = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    assert old in source
    path = tmp_path / "recruitment.yaml"
    path.write_text(source.replace(old, new), encoding="utf-8")
    monkeypatch.setenv("MITRABOT_RECRUITMENT_FILE", str(path))


@pytest.mark.usefixtures("data_dir")
def test_a_healthy_set_up_passes_with_one_line_per_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "Hasil: 0 masalah yang menghalangi, 0 peringatan."
    assert all(line.startswith("OK ") for line in lines[:-1])
    checks = {line.split()[1] for line in lines[:-1]}
    assert checks >= {"recruitment", "dates", "quiet_hours", "database", "clock", "staff"}
    assert checks >= {"data_dir", "documents", "privacy", "telegram", "whatsapp", "web"}


def test_a_blocker_line_says_how_to_fix_it_and_exits_1(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_dir / "mitrabot.db").unlink()
    assert main(["doctor"]) == 1
    output = capsys.readouterr().out
    assert "BLOKIR     database     berkas basis data" in output
    assert "belum ada → jalankan `mitrabot db upgrade`" in output
    assert "Hasil: 1 masalah yang menghalangi, 0 peringatan." in output
    assert not (data_dir / "mitrabot.db").exists()  # the doctor creates nothing


# 1. The database


def test_an_empty_database_is_not_migrated_and_the_doctor_does_not_migrate_it(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = data_dir / "mitrabot.db"
    database.unlink()
    database.touch(mode=0o600)
    code, findings = _doctor(capsys)
    assert code == 1
    assert _not_ok(findings) == {"doctor_db_empty": "blocker"}
    fix = next(f["fix"] for f in findings if f["key"] == "doctor_db_empty")
    assert fix == "jalankan `mitrabot db upgrade`"
    assert sqlite3.connect(database).execute("SELECT name FROM sqlite_master").fetchall() == []


def _set_revision(database: Path, revision: str) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))


def test_an_older_schema_revision_is_a_blocker(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_revision(min(shipped_heads()))
    assert isinstance(head.down_revision, str)
    _set_revision(data_dir / "mitrabot.db", head.down_revision)
    code, findings = _doctor(capsys)
    assert code == 1
    assert _levels(findings)["doctor_db_behind"] == "blocker"
    message = next(f["message"] for f in findings if f["key"] == "doctor_db_behind")
    assert head.down_revision in message


def test_a_schema_from_newer_code_is_a_blocker(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_revision(data_dir / "mitrabot.db", "ffffffffffff")
    code, findings = _doctor(capsys)
    assert code == 1
    assert _levels(findings)["doctor_db_unknown_revision"] == "blocker"


@pytest.mark.usefixtures("data_dir")
@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("postgresql+asyncpg://postgres@127.0.0.1:1/none", "doctor_db_unreachable"),
        ("no-such-driver://somewhere/db", "doctor_db_bad_url"),
        ("not a url", "doctor_db_bad_url"),
    ],
)
def test_a_database_that_cannot_be_reached_is_a_blocker(
    url: str, key: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MITRABOT_DATABASE_URL", url)
    code, findings = _doctor(capsys)
    assert code == 1
    assert _not_ok(findings) == {key: "blocker"}  # staff come from MITRABOT_STAFF


async def test_postgresql_not_migrated_then_migrated_and_its_clock_compared(
    tmp_path: Path,
) -> None:
    async for db in _empty_database("postgresql", tmp_path):
        url = db.url.render_as_string(hide_password=False)
        empty = await check_database(url, await _server_time(db), 1)
        assert [(f.key, f.level) for f in empty] == [
            ("doctor_db_empty", "blocker"),
            ("doctor_clock_ok", "ok"),
            ("doctor_staff_ok", "ok"),
        ]
        assert (await schema_state(db))[0] == "empty"  # still: the doctor never migrates
        await db.upgrade()
        server = await _server_time(db)
        for skew, level in [
            (timedelta(seconds=5), "ok"),
            (timedelta(seconds=-90), "warning"),
            (timedelta(minutes=30), "blocker"),
        ]:
            found = await check_database(url, server + skew, 1)
            assert [(f.check, f.level) for f in found] == [
                ("database", "ok"),
                ("clock", level),
                ("staff", "ok"),
            ]


async def _server_time(db: Database) -> Any:
    """The PostgreSQL server's time (the machine's time a test feeds is set from it)."""
    moment = await server_now(db)
    assert moment is not None
    return moment


# 2. Telegram


@pytest.mark.usefixtures("data_dir")
@pytest.mark.parametrize(
    ("settings", "key", "level"),
    [
        ({"MITRABOT_TELEGRAM_TOKEN": "123456789:short"}, "doctor_tg_token_shape", "blocker"),
        ({"MITRABOT_TELEGRAM_TOKEN": f"bot{TOKEN}"}, "doctor_tg_token_shape", "blocker"),
        ({"MITRABOT_TELEGRAM_WEBHOOK_SECRET": "not/allowed"}, "doctor_tg_secret_shape", "blocker"),
        (
            {"MITRABOT_TELEGRAM_WEBHOOK_URL": "http://bot.example.id/telegram/webhook"},
            "doctor_tg_url_not_https",
            "blocker",
        ),
        (
            {"MITRABOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.id/webhook"},
            "doctor_tg_url_route",
            "blocker",
        ),
        (
            {"MITRABOT_TELEGRAM_WEBHOOK_URL": "https://bot.example.id/telegram/webhook?x=1"},
            "doctor_tg_url_query",
            "blocker",
        ),
    ],
)
def test_telegram_misconfigurations(
    settings: dict[str, str],
    key: str,
    level: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    code, findings = _doctor(capsys)
    assert _not_ok(findings) == {key: level}
    assert code == 1


@pytest.mark.usefixtures("data_dir")
def test_a_webhook_url_through_a_proxy_prefix_is_fine_and_polling_needs_none(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "doctor_tg_polling" in _levels(_doctor(capsys)[1])
    monkeypatch.setenv("MITRABOT_TELEGRAM_WEBHOOK_URL", "https://x.example.id/bot/telegram/webhook")
    code, findings = _doctor(capsys)
    assert (code, _levels(findings)["doctor_tg_webhook"]) == (0, "ok")


@pytest.mark.usefixtures("data_dir")
def test_a_webhook_url_without_a_token_is_a_warning_and_no_channel_a_blocker(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MITRABOT_TELEGRAM_TOKEN")
    code, findings = _doctor(capsys)
    assert (code, _not_ok(findings)) == (1, {"doctor_no_channel": "blocker"})
    monkeypatch.setenv("MITRABOT_TELEGRAM_WEBHOOK_URL", "https://x.example.id/telegram/webhook")
    for name, value in WHATSAPP.items():
        monkeypatch.setenv(name, value)
    code, findings = _doctor(capsys)
    assert (code, _not_ok(findings)) == (0, {"doctor_tg_url_without_token": "warning"})


# 3. WhatsApp


@pytest.mark.usefixtures("data_dir")
@pytest.mark.parametrize(
    ("changes", "key", "level", "code"),
    [
        ({"MITRABOT_WHATSAPP_APP_SECRET": None}, "doctor_wa_partial", "blocker", 1),
        ({"MITRABOT_WHATSAPP_PHONE_ID": "+628123456"}, "doctor_wa_phone_id", "blocker", 1),
        ({"MITRABOT_WHATSAPP_TOKEN": "EAA token"}, "doctor_wa_blank", "blocker", 1),
        ({"MITRABOT_WHATSAPP_APP_SECRET": "not-hex"}, "doctor_wa_app_secret", "warning", 0),
    ],
)
def test_whatsapp_misconfigurations(
    changes: dict[str, str | None],
    key: str,
    level: str,
    code: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {**WHATSAPP, **changes}.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    exit_code, findings = _doctor(capsys)
    assert _not_ok(findings) == {key: level}
    assert exit_code == code


@pytest.mark.usefixtures("data_dir")
def test_the_partial_whatsapp_finding_names_what_is_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MITRABOT_WHATSAPP_TOKEN", "EAAtoken")
    _, findings = _doctor(capsys)
    message = next(f["message"] for f in findings if f["key"] == "doctor_wa_partial")
    assert "MITRABOT_WHATSAPP_PHONE_ID" in message
    assert "MITRABOT_WHATSAPP_TOKEN" not in message


# 4. Where `serve` listens


@pytest.mark.usefixtures("data_dir")
def test_listening_beyond_loopback_without_a_metrics_token_warns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MITRABOT_HOST", "0.0.0.0")
    code, findings = _doctor(capsys)
    assert code == 0
    assert _not_ok(findings) == {
        "doctor_host_everywhere": "warning",
        "doctor_metrics_no_token": "warning",
    }
    monkeypatch.setenv("MITRABOT_HOST", "10.0.0.5")
    monkeypatch.setenv("MITRABOT_METRICS_TOKEN", "s3cret")
    assert _not_ok(_doctor(capsys)[1]) == {}


# 5. The data folder


def test_a_data_folder_others_can_read_is_a_blocker_with_the_chmod_fix(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir.chmod(0o755)
    code, findings = _doctor(capsys)
    assert (code, _not_ok(findings)) == (1, {"doctor_not_private": "blocker"})
    fix = next(f["fix"] for f in findings if f["key"] == "doctor_not_private")
    assert fix == f"chmod -R go-rwx {data_dir}"


def test_a_database_file_others_can_read_is_a_blocker(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_dir / "mitrabot.db").chmod(0o644)
    code, findings = _doctor(capsys)
    assert (code, _not_ok(findings)) == (1, {"doctor_not_private": "blocker"})


def test_a_data_folder_that_is_a_file_or_cannot_be_made_is_a_blocker(
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MITRABOT_DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'mitrabot.db'}")
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("MITRABOT_DATA_DIR", str(not_a_folder))
    code, findings = _doctor(capsys)
    assert code == 1
    assert _levels(findings)["doctor_folder_not_dir"] == "blocker"
    monkeypatch.setenv("MITRABOT_DATA_DIR", str(not_a_folder / "data"))
    code, findings = _doctor(capsys)
    assert code == 1
    assert _levels(findings)["doctor_folder_cannot_create"] == "blocker"
    assert not (not_a_folder / "data").exists()


def test_a_documents_folder_the_bot_cannot_write_in_is_a_blocker(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A folder where the probe file goes: writing it fails even for root (the tests' user).
    (data_dir / "documents" / ".mitrabot-write-probe").mkdir(parents=True)
    (data_dir / "documents").chmod(0o700)
    code, findings = _doctor(capsys)
    assert (code, _not_ok(findings)) == (1, {"doctor_folder_not_writable": "blocker"})
    assert next(f["check"] for f in findings if f["level"] == "blocker") == "documents"


def test_a_missing_data_folder_is_made_later_not_by_the_doctor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MITRABOT_DATA_DIR", str(tmp_path / "new"))
    _, findings = _doctor(capsys)
    assert _levels(findings)["doctor_folder_created_later"] == "ok"
    assert not (tmp_path / "new").exists()


# 6, 7. The clock, the time zone and the recruitment file


@pytest.mark.usefixtures("data_dir")
def test_sqlite_shows_this_machines_time_in_the_recruitments_zone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, findings = _doctor(capsys)
    message = next(f["message"] for f in findings if f["key"] == "doctor_clock_here")
    assert "Asia/Jakarta" in message


@pytest.mark.usefixtures("data_dir")
@pytest.mark.parametrize(
    ("at", "key", "level", "code"),
    [
        ("2023-10-01T09:00", "doctor_dates_ahead", "ok", 0),
        (OPEN_DAY, "doctor_dates_open", "ok", 0),
        ("2023-12-01T09:00", "doctor_dates_closed", "warning", 0),
        ("2024-11-01T09:00", "doctor_dates_past", "blocker", 1),
    ],
)
def test_the_recruitment_dates_against_the_clock(
    at: str, key: str, level: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code, findings = _doctor(capsys, "--at", at)
    assert _levels(findings)[key] == level
    assert exit_code == code


@pytest.mark.usefixtures("data_dir")
def test_an_unknown_time_zone_makes_the_recruitment_file_a_blocker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _recruitment_file(tmp_path, monkeypatch, "timezone: Asia/Jakarta", "timezone: Asia/Atlantis")
    code, findings = _doctor(capsys)
    assert code == 1
    message = next(f["message"] for f in findings if f["key"] == "doctor_config_invalid")
    assert "unknown time zone 'Asia/Atlantis'" in message
    assert {f["check"] for f in findings} >= {"database", "telegram", "data_dir"}  # still checked


# 8. Quiet hours


@pytest.mark.usefixtures("data_dir")
@pytest.mark.parametrize(
    ("start", "end", "key"),
    [("08:00", "08:00", "doctor_quiet_none"), ("06:00", "23:00", "doctor_quiet_long")],
)
def test_quiet_hours_that_are_never_or_almost_always_warn(
    start: str,
    end: str,
    key: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _recruitment_file(
        tmp_path,
        monkeypatch,
        'quiet_hours:\n  start: "21:00"\n  end: "06:00"',
        f'quiet_hours:\n  start: "{start}"\n  end: "{end}"',
    )
    code, findings = _doctor(capsys)
    assert (code, _not_ok(findings)) == (0, {key: "warning"})


# 9. Staff


@pytest.mark.usefixtures("data_dir")
def test_no_staff_anywhere_warns_and_staff_in_the_database_count(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MITRABOT_STAFF")
    code, findings = _doctor(capsys)
    assert (code, _not_ok(findings)) == (0, {"doctor_staff_none": "warning"})
    assert main(["staff", "add", "telegram:7", "--name", "Ani"]) == 0
    capsys.readouterr()
    assert _not_ok(_doctor(capsys)[1]) == {}
