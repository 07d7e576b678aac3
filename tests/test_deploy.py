"""The deploy/ recipes: systemd units that systemd accepts, settings and commands that exist,
proxy limits that match the app's, proxy configs that Caddy accepts.

The end-to-end run (a fresh Debian container, install.sh, the fakes through https) is the slow
manual deploy/test/e2e.py; see deploy/README.md."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DEBIAN = DEPLOY / "debian"
COMPOSE = DEPLOY / "compose"
UNITS = sorted([*DEBIAN.glob("*.service"), *DEBIAN.glob("*.timer")])
SERVICES = [unit for unit in UNITS if unit.suffix == ".service"]
ENV_EXAMPLE = DEBIAN / "mitrabot.env.example"
CADDYFILES = [DEBIAN / "Caddyfile", COMPOSE / "Caddyfile"]
MITRABOT = "/opt/mitrabot/venv/bin/mitrabot"
SETTING = re.compile(r"^#?\s*(MITRABOT_[A-Z0-9_]+)=(.*)$", re.MULTILINE)


def unit_values(unit: Path, key: str) -> list[str]:
    """Every value of `key` in a unit file."""
    return re.findall(rf"^{key}=(.*)$", unit.read_text(), re.MULTILINE)


def verify_problems(*units: Path) -> list[str]:
    """What `systemd-analyze verify` says about `units`, less the one thing only the server
    has: the installed /opt/mitrabot/venv/bin/mitrabot."""
    done = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    missing = f"Command {MITRABOT} is not executable"
    return [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and not (missing in line and not Path(MITRABOT).exists())
    ]


def setting_names(text: str) -> set[str]:
    """The MITRABOT_* names set (or shown commented out) in an env file."""
    return {name for name, _ in SETTING.findall(text)}


def assert_real_settings(names: set[str]) -> None:
    fields = {f"MITRABOT_{name.upper()}" for name in Settings.model_fields}
    assert names, "no settings found"
    assert names <= fields, f"not settings of bot/settings.py: {sorted(names - fields)}"


def assert_real_command(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`mitrabot WORDS --help` exits 0: the (sub)command exists."""
    with pytest.raises(SystemExit) as exited:
        main([*words, "--help"])
    capsys.readouterr()
    assert exited.value.code == 0, f"`mitrabot {' '.join(words)}` is not a command"


def test_the_units_are_there() -> None:
    names = {unit.name for unit in UNITS}
    assert {"mitrabot-serve.service", "mitrabot-worker.service"} <= names
    installer = (DEBIAN / "install.sh").read_text()
    for unit in UNITS:
        assert unit.name in installer, f"install.sh does not install {unit.name}"


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
def test_systemd_accepts_the_units() -> None:
    assert verify_problems(*UNITS) == []


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
def test_the_unit_check_catches_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "mitrabot-serve.service"
    text = (DEBIAN / "mitrabot-serve.service").read_text()
    broken.write_text(text.replace("ProtectSystem=strict", "ProtectSystem=strickt"))
    assert any(
        "ProtectSystem" in line or "protect system" in line for line in verify_problems(broken)
    )


@pytest.mark.parametrize("unit", SERVICES, ids=lambda unit: unit.name)
def test_each_service_is_hardened_and_runs_a_real_command(
    unit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = unit.read_text()
    for line in (
        "User=mitrabot",
        "EnvironmentFile=/etc/mitrabot/mitrabot.env",
        "StateDirectory=mitrabot",
        "StateDirectoryMode=0700",
        "UMask=0077",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet=",
        "SystemCallFilter=@system-service",
    ):
        assert f"\n{line}\n" in text, f"{unit.name} lacks {line}"
    assert "/var/lib/mitrabot" in unit_values(unit, "ReadWritePaths")[0].split()
    [command] = unit_values(unit, "ExecStart")
    words = re.search(rf"{re.escape(MITRABOT)} (\w+)", command)
    assert words is not None, f"{unit.name} does not run {MITRABOT}"
    assert_real_command([words.group(1)], capsys)


@pytest.mark.parametrize("name", ["mitrabot-serve.service", "mitrabot-worker.service"])
def test_long_running_services_restart_and_stop_gracefully(name: str) -> None:
    unit = DEBIAN / name
    assert unit_values(unit, "Restart") == ["on-failure"]
    assert unit_values(unit, "KillSignal") == ["SIGTERM"]
    [stop] = unit_values(unit, "TimeoutStopSec")
    grace = Settings.model_fields["stop_grace_seconds"].default
    # a stop waits up to the grace for the requests, then again for the work in hand
    assert int(stop) > 2 * grace, "systemd must wait longer than a graceful stop may take"
    assert "postgresql.service" in unit_values(unit, "After")[0]


def test_the_env_example_names_only_real_settings() -> None:
    assert_real_settings(setting_names(ENV_EXAMPLE.read_text()))


def test_the_env_example_loads_with_production_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MITRABOT_"):
            monkeypatch.delenv(name)
    settings = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    assert settings.data_dir == Path("/var/lib/mitrabot")
    assert (settings.database_url or "").startswith("postgresql+asyncpg://")
    assert settings.log_format == "json"
    assert settings.host == "127.0.0.1"
    assert (settings.telegram_webhook_url or "").startswith("https://")
    assert settings.desk_secure_cookie is True


def caddy_limits(caddyfile: Path) -> tuple[int, float, int | None]:
    """The body size (bytes), the body timeout (seconds) and the upstream port of a Caddyfile."""
    text = caddyfile.read_text()
    size = re.search(r"max_size (\d+)MiB", text)
    timeout = re.search(r"read_body (\d+)s", text)
    upstream = re.search(r"reverse_proxy \S+:(\d+)", text)
    assert size and timeout and upstream, f"{caddyfile}: no max_size/read_body/reverse_proxy"
    return int(size.group(1)) * 1024 * 1024, float(timeout.group(1)), int(upstream.group(1))


@pytest.mark.parametrize("caddyfile", CADDYFILES, ids=lambda path: path.parent.name)
def test_the_proxy_limits_match_the_app(caddyfile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MITRABOT_"):
            monkeypatch.delenv(name)
    settings = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    assert caddy_limits(caddyfile) == (
        settings.max_body_bytes,
        settings.body_timeout_seconds,
        settings.port,
    )
    text = caddyfile.read_text()
    assert re.search(r"@metrics path /metrics", text) and "respond @metrics 403" in text


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed")
@pytest.mark.parametrize("caddyfile", CADDYFILES, ids=lambda path: path.parent.name)
def test_caddy_accepts_the_caddyfile(caddyfile: Path, tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "DOMAIN": "bot.example.go.id",
    }
    done = subprocess.run(
        ["caddy", "validate", "--adapter", "caddyfile", "--config", str(caddyfile)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def compose_services() -> dict[str, dict]:
    return yaml.safe_load((COMPOSE / "compose.yaml").read_text())["services"]


def test_compose_runs_real_commands(capsys: pytest.CaptureFixture[str]) -> None:
    services = compose_services()
    assert {"postgres", "migrate", "serve", "worker", "caddy"} <= set(services)
    assert services["postgres"]["image"] == "postgres:15"
    assert "healthcheck" in services["postgres"]
    for name in ("migrate", "serve", "worker"):
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/compose/Dockerfile"
        assert (COMPOSE / service["build"]["context"] / "pyproject.toml").exists()
        assert_real_command(service["command"], capsys)
    assert services["serve"]["command"] == ["serve"]
    assert services["worker"]["command"] == ["worker"]


def test_compose_names_only_real_settings() -> None:
    names: set[str] = set()
    for service in compose_services().values():
        names |= {name for name in service.get("environment", {}) if name.startswith("MITRABOT_")}
    dockerfile = (COMPOSE / "Dockerfile").read_text()
    names |= set(re.findall(r"(MITRABOT_[A-Z0-9_]+)=", dockerfile))
    assert_real_settings(names)


def test_the_image_is_built_from_pyproject_and_checks_healthz() -> None:
    dockerfile = (COMPOSE / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "COPY pyproject.toml" in dockerfile and "pip install ." in dockerfile
    assert "USER mitrabot" in dockerfile
    assert re.search(r"HEALTHCHECK .*\n.*/healthz", dockerfile)
    packages = re.search(r"include = \[(.*)\]", (DEPLOY.parent / "pyproject.toml").read_text())
    assert packages is not None
    for package in re.findall(r'"(\w+)\*"', packages.group(1)):
        assert f"COPY {package} ./{package}" in dockerfile, f"the image lacks {package}/"


def test_the_install_script_parses() -> None:
    for script in (DEBIAN / "install.sh", DEBIAN / "mitrabot-cli"):
        done = subprocess.run(
            ["sh", "-n", str(script)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
