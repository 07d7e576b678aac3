"""The `mitrabot` command: terminal chat, config check, staff and registration tools."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from core.catalog import Catalog
from tests import images

MITRABOT = [sys.executable, "-c", "from bot.cli import main; raise SystemExit(main())"]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    monkeypatch.setenv("MITRABOT_DATA_DIR", str(tmp_path / "data"))
    for name in ("MITRABOT_DATABASE_URL", "MITRABOT_CLOCK_AT", "MITRABOT_STAFF"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


def _chat(lines: list[str], *extra: str) -> str:
    result = subprocess.run(
        [*MITRABOT, "chat", "--user", "tester", *extra],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
        check=True,
    )
    return result.stdout


def test_terminal_chat_registers_with_numbered_choices(data_dir: Path, tmp_path: Path) -> None:
    pictures = []
    for name, content in (
        ("foto.jpg", images.good_photo()),
        ("ktp.jpg", images.good_ktp()),
        ("ijazah.pdf", images.pdf()),
    ):
        (tmp_path / name).write_bytes(content)
        pictures.append(f"/kirim {tmp_path / name}")
    answers = [
        "1",
        "1",
        *["1"] * 8,
        "Siti Aminah",
        "3528015708950003",
        "Pamekasan",
        "17-08-1995",
        "2",
        "Dusun Krajan RT 02 RW 01, Desa Tlanakan",
        "1",
        "081234567890",
        "siti@example.com",
        "3",
        "1",
        "1",
        "2",
        *pictures,
        "1",
    ]
    output = _chat(answers, "--at", "2023-11-10T09:00")
    assert "[1] 📝 Daftar" in output
    assert "BELUM terdaftar secara resmi" in output and "nomor registrasi PMK24-00001" in output
    assert (data_dir / "mitrabot.db").exists()
    stored = [path for path in (data_dir / "documents").rglob("*") if path.is_file()]
    assert sorted(path.suffix for path in stored) == [".jpg", ".jpg", ".pdf"]
    assert all(path.stat().st_mode & 0o077 == 0 for path in stored)  # private to the bot


def test_terminal_chat_resumes_where_the_user_stopped() -> None:
    _chat(["1", "1", "1", "1"], "--at", "2023-11-10T09:00")
    output = _chat([], "--at", "2023-11-10T09:05")
    assert "Selamat datang kembali" in output and "(3 dari 8)" in output


def test_terminal_chat_after_the_deadline_says_registration_is_closed() -> None:
    output = _chat(["1"], "--at", "2023-12-05T10:00")
    assert "sudah ditutup pada 30 November 2023" in output


def test_the_rehearsal_clock_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MITRABOT_CLOCK_AT", "2023-10-15T10:00")
    output = _chat(["1"])
    assert "Pendaftaran belum dibuka" in output


def test_config_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    for unset in ("contact.email", "schedule.announcement_time", "stages[1].results_by"):
        assert f"  {unset}\n" in out  # optional facts the announcement does not give
    assert "sobat.help_within" in out and "registration_end" not in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("office: [\n", encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 2
    assert f"{bad}:" in capsys.readouterr().err


def test_staff_add_list_remove(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["staff", "add", "telegram:123", "--name", "Erfan"]) == 0
    assert main(["staff", "list"]) == 0
    assert "telegram:123\tErfan" in capsys.readouterr().out
    assert main(["staff", "remove", "telegram:123"]) == 0
    assert main(["staff", "remove", "telegram:123"]) == 1
    with pytest.raises(SystemExit, match="identitas harus seperti telegram:123456789"):
        main(["staff", "add", "sms:1", "--name", "X"])


def test_web_desk_accounts_from_the_command_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def typed(*lines: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))

    typed("kata-sandi-rahasia")
    add = ["staff", "add", "ani", "--web", "--role", "admin", "--display-name", "Ani W"]
    assert main([*add, "--password-stdin"]) == 0
    assert "Akun meja petugas ani dibuat (peran: admin)" in capsys.readouterr().out
    answers = iter(["kata-sandi-rahasia", "kata-sandi-lain"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    with pytest.raises(SystemExit, match="kedua kata sandi berbeda"):
        main(["staff", "add", "budi", "--web"])
    typed("pendek")
    with pytest.raises(SystemExit, match="Kata sandi minimal 12 karakter"):
        main(["staff", "passwd", "ani", "--password-stdin"])
    typed("kata-sandi-yang-baru")
    assert main(["staff", "passwd", "ani", "--password-stdin"]) == 0
    assert main(["staff", "add", "telegram:123", "--name", "Erfan"]) == 0  # a chat, as before
    capsys.readouterr()
    assert main(["staff", "list"]) == 0
    listed = capsys.readouterr().out
    assert "telegram:123\tErfan" in listed and "web:ani\tAni W\tadmin\tdibuat oleh cli:" in listed
    assert main(["staff", "remove", "ani", "--web"]) == 0
    assert main(["staff", "remove", "ani", "--web"]) == 1
    assert main(["staff", "list"]) == 0
    assert "(nonaktif)" in capsys.readouterr().out
    typed("kata-sandi-rahasia")
    with pytest.raises(SystemExit, match="Nama login ani sudah dipakai"):
        main([*add, "--password-stdin"])


def test_schedule_ids_say_when_each_job_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "ids"]) == 0
    lines = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert lines["retention"] == "tiap hari pukul 02.30, dan 1 menit setelah bot dinyalakan"
    assert lines["silent"] == "tiap 60 menit"
    assert lines["final_announcement"] == "15 Desember 2023, 00.00 WIB"


def test_registration_close_status_open(capsys: pytest.CaptureFixture[str]) -> None:
    # Staff read the command line in Indonesian, as in the staff chat, with times in WIB.
    assert main(["registration", "status", "--at", "2023-11-10T09:00"]) == 0
    out = capsys.readouterr().out
    assert "Per 10 November 2023, 09.00 WIB:" in out and "Status pendaftaran: dibuka" in out
    assert main(["registration", "close", "--reason", "kuota 300 terpenuhi"]) == 0
    assert "Pendaftaran ditutup lebih awal. Alasan: kuota 300 terpenuhi" in capsys.readouterr().out
    assert main(["registration", "status", "--at", "2023-11-10T09:00"]) == 0
    assert "Status pendaftaran: ditutup lebih awal" in capsys.readouterr().out
    assert main(["registration", "open"]) == 0
    assert main(["registration", "status", "--at", "2023-12-01T00:00"]) == 0
    assert "Status pendaftaran: sudah berakhir" in capsys.readouterr().out


def test_run_without_a_token_explains_what_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MITRABOT_TELEGRAM_TOKEN", raising=False)
    assert main(["run"]) == 2
    assert "MITRABOT_TELEGRAM_TOKEN" in capsys.readouterr().err


def test_bad_settings_are_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MITRABOT_STAFF", "nobody")
    assert main(["staff", "list"]) == 2
    assert "telegram:12345" in capsys.readouterr().err


def test_purge_deletes_only_applicants_past_the_retention_period(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _chat(["1", "1"], "--at", "2023-11-10T09:00")
    assert main(["data", "purge", "--at", "2025-10-01T00:00"]) == 0
    assert "0 pendaftar yang tidak berubah sejak" in capsys.readouterr().out
    assert main(["data", "purge", "--at", "2025-12-01T00:00"]) == 0
    out = capsys.readouterr().out
    assert "1 pendaftar yang tidak berubah sejak 1 Desember 2023" in out
    assert "akan dihapus" in out and "Uji coba" in out
    assert main(["data", "purge", "--apply", "--at", "2025-12-01T00:00"]) == 0
    assert "1 pendaftar yang tidak berubah sejak 1 Desember 2023" in capsys.readouterr().out
    assert main(["registration", "status", "--at", "2025-12-01T00:00"]) == 0
    assert "Pendaftar tersimpan: 0" in capsys.readouterr().out


def test_broadcast_from_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _chat(["1", "1"], "--at", "2023-11-10T09:00")  # one applicant: "Daftar", "Saya setuju"
    photo = tmp_path / "jadwal.jpg"
    photo.write_bytes(images.good_photo())
    assert (
        main(
            [
                "broadcast",
                "send",
                "--text",
                "Halo {nama}",
                "--audience",
                "incomplete",
                "--file",
                str(photo),
                "--yes",
                "--urgent",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    # The preview is the real first recipient's message: this one has given no name yet.
    assert "Pratinjau (untuk penerima pertama):\nHalo Bapak/Ibu" in out
    assert "Penerima incomplete: 1 orang" in out
    assert "Siaran #1 masuk antrean untuk 1 penerima" in out
    assert main(["broadcast", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("#1\t") and "WIB\tberjalan\t1 penerima" in listed
    assert main(["broadcast", "status", "1"]) == 0
    assert "Terkirim 0 dari 1" in capsys.readouterr().out
    assert main(["broadcast", "cancel", "1"]) == 0
    assert "Siaran #1: 1 pesan yang belum terkirim dibatalkan" in capsys.readouterr().out
    assert main(["broadcast", "failures", "1", "--out", str(tmp_path / "f.csv")]) == 0
    assert (tmp_path / "f.csv").read_text(encoding="utf-8-sig").startswith("channel,recipient")


def test_bad_audience_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="penerima nowhere tidak dikenal"):
        main(["broadcast", "send", "--text", "x", "--audience", "nowhere", "--yes"])
    with pytest.raises(SystemExit, match=r"kode kecamatan 99\.99\.99 tidak dikenal"):
        main(["broadcast", "send", "--text", "x", "--audience", "kecamatan:99.99.99", "--yes"])


def test_a_broadcast_to_a_terminal_user_waits_for_their_session_then_completes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = Catalog.load()
    _chat(["1", "1"], "--at", "2023-11-10T09:00")  # "Daftar", "Saya setuju"
    monkeypatch.setenv("MITRABOT_CLOCK_AT", "2023-11-10T09:01")
    assert main(["broadcast", "send", "--text", "Tes kompetensi tanggal 4.", "--yes"]) == 0
    assert "Penerima all: 1 orang" in capsys.readouterr().out
    assert main(["broadcast", "status", "1"]) == 0
    waiting = capsys.readouterr().out
    assert catalog.text("id", "broadcast_state_queued") in waiting

    output = _chat([], "--at", "2023-11-10T09:05")  # the next session shows what waited
    assert "Tes kompetensi tanggal 4." in output
    assert main(["broadcast", "status", "1"]) == 0
    assert catalog.text("id", "broadcast_state_done") in capsys.readouterr().out
    assert "Tes kompetensi" not in _chat([], "--at", "2023-11-10T09:10")  # shown once


def test_send_at_errors_name_send_at(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MITRABOT_CLOCK_AT", "2023-11-10T09:00")
    send = ["broadcast", "send", "--text", "Halo", "--yes"]
    with pytest.raises(SystemExit, match="--send-at harus waktu yang akan datang"):
        main([*send, "--send-at", "2023-11-01T08:00"])
    (tmp_path / "jadwal.jpg").write_bytes(images.good_photo())
    with pytest.raises(SystemExit, match="--send-at: siaran terjadwal hanya berupa teks"):
        main([*send, "--send-at", "2023-11-20T08:00", "--file", str(tmp_path / "jadwal.jpg")])
    with pytest.raises(SystemExit):
        main([*send, "--send-at", "besok"])
    assert "argument --send-at" in capsys.readouterr().err
    assert main([*send, "--send-at", "2023-11-20T08:00"]) == 0
    assert "Siaran terjadwal #1 untuk 20 November 2023, 08.00 WIB" in capsys.readouterr().out
