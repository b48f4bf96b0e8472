"""docker-compose.yml (no Docker engine here, so it is parsed and checked, not run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from servflow.platform.settings import Settings
from workflows.constants import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]


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
    fields = {f"SERVFLOW_{name.upper()}" for name in Settings.model_fields}
    for name in ("worker", "api"):
        service = compose["services"][name]
        assert service["deploy"]["replicas"] >= 2
        env = service["environment"]
        unknown = {k for k in env if k.startswith("SERVFLOW_")} - fields
        assert not unknown, f"{name} sets variables settings.py does not read: {unknown}"
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
