"""docker-compose.yml (no Docker engine here, so it is parsed and checked, not run)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from servflow.platform.keys import WeakSecret, binary_keys, check_strength
from servflow.platform.settings import Settings
from workflows.constants import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {f"SERVFLOW_{name.upper()}" for name in Settings.model_fields}
SECRET_NAME = re.compile(r"SECRET|KEY|PASSWORD|PWD")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?P<op>:?[-?])?(?P<rest>[^}]*)\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def test_runs_temporal_on_postgres_with_ui_and_servflow_database(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"temporal", "temporal-db", "temporal-ui", "servflow-db", "worker", "api"} <= set(
        services
    )
    assert services["temporal"]["environment"]["DB"].startswith("postgres")
    assert services["temporal"]["depends_on"]["temporal-db"]["condition"] == "service_healthy"


def test_workers_and_api_are_replicated_and_configured_from_settings(
    compose: dict[str, Any],
) -> None:
    for name in ("worker", "api"):
        service = compose["services"][name]
        assert service["deploy"]["replicas"] >= 2
        env = service["environment"]
        assert env["SERVFLOW_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["SERVFLOW_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert (
            service["depends_on"]["servflow-migrate"]["condition"]
            == "service_completed_successfully"
        )


def test_every_search_attribute_is_registered_with_its_type(compose: dict[str, Any]) -> None:
    command = " ".join(compose["services"]["temporal-setup"]["command"]).split()
    pairs = {command[i + 1]: command[i + 3] for i, word in enumerate(command) if word == "--name"}
    assert pairs == SEARCH_ATTRIBUTES


def test_commands_name_modules_that_exist(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["worker"]["command"] == ["python", "worker.py"]
    assert (ROOT / "worker.py").exists()
    assert services["api"]["command"][-1] == "api" and (ROOT / "api" / "__main__.py").exists()
    assert services["servflow-migrate"]["command"][-2:] == ["servflow.cli", "migrate"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.txt" in dockerfile and "USER servflow" in dockerfile


def environments(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: dict(svc.get("environment") or {}) for name, svc in compose["services"].items()}


def test_every_servflow_variable_is_a_setting(compose: dict[str, Any]) -> None:
    """A misspelt name would be ignored silently (extra="ignore"), leaving a default on."""
    for name, env in environments(compose).items():
        unknown = {k for k in env if k.startswith("SERVFLOW_")} - SETTINGS
        assert not unknown, f"{name} sets variables settings.py does not read: {unknown}"
    named = (re.match(r"#? *([A-Z0-9_]+)=", line) for line in env_example())
    example = {found[1] for found in named if found}
    assert "SERVFLOW_PAYLOAD_KEY" in example
    assert {k for k in example if k.startswith("SERVFLOW_")} <= SETTINGS


def test_servflow_gets_every_secret_it_needs(compose: dict[str, Any]) -> None:
    for name in ("worker", "api", "servflow-migrate"):
        env = compose["services"][name]["environment"]
        for key in ("SERVFLOW_JWT_SECRET", "SERVFLOW_ACTOR_KEY", "SERVFLOW_PAYLOAD_KEY"):
            assert key in env, f"{name} lacks {key}"
        assert "SERVFLOW_DEMO" not in env


def test_no_secret_has_a_default_that_starts(compose: dict[str, Any]) -> None:
    """Each secret is `${NAME:?message}`: unset or empty, compose refuses to start."""
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text
    for service, env in environments(compose).items():
        for key, value in env.items():
            if SECRET_NAME.search(key):
                found = INTERPOLATION.fullmatch(str(value))
                assert found, f"{service}.{key} is a literal, not taken from .env"
        url = env.get("SERVFLOW_DATABASE_URL")
        if url:
            password = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
            assert INTERPOLATION.fullmatch(password), f"{service}'s database password is literal"
    for found in INTERPOLATION.finditer(text):
        if SECRET_NAME.search(found["name"]):
            assert found["op"] == ":?", f"${{{found['name']}}} has a default or may be empty"


def test_temporal_and_its_ui_are_not_published_beyond_the_host(compose: dict[str, Any]) -> None:
    """Temporal has no authentication here: its frontend stays on the compose network and
    the UI listens on the host's loopback only (reached through an SSH tunnel)."""
    services = compose["services"]
    for name in ("temporal", "temporal-db", "temporal-setup", "servflow-db"):
        assert not services[name].get("ports"), f"{name} publishes {services[name]['ports']}"
    for port in services["temporal-ui"].get("ports", []):
        assert str(port).startswith("127.0.0.1:"), f"the Temporal UI is published as {port}"
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    assert "TEMPORAL_CODEC_ENDPOINT" in ui


def env_example() -> list[str]:
    return (ROOT / ".env.example").read_text().splitlines()


def test_env_example_names_every_required_secret_and_no_value(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = {m["name"] for m in INTERPOLATION.finditer(text) if m["op"] == ":?"}
    values = dict(line.split("=", 1) for line in env_example() if line and line[0] != "#")
    assert required == set(values)
    assert all(value == "" for value in values.values()), "a secret value in .env.example"
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()


def test_env_example_generators_make_values_servflow_accepts() -> None:
    """The commands .env.example gives produce secrets servflow's checks accept."""
    commands = [line.split("python -c ", 1)[1] for line in env_example() if "python -c " in line]
    assert len(commands) == 3
    made = [
        subprocess.run(
            [sys.executable, "-c", command.strip().strip('"')],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for command in commands
    ]
    check_strength(made[0], setting="jwt_secret")
    assert len(binary_keys(made[1], setting="payload_key", demo=False)[0]) == 32
    check_strength(made[2], setting="postgres")
    with pytest.raises(WeakSecret):
        binary_keys(made[0], setting="payload_key", demo=False)


def test_tracing_is_off_unless_the_operator_sets_it(compose: dict[str, Any]) -> None:
    for name in ("worker", "api"):
        env = compose["services"][name]["environment"]
        assert env["SERVFLOW_TRACING"] == "${SERVFLOW_TRACING:-off}"
        assert Settings.model_fields["tracing"].default == "off"
