"""`servflow run --workers N --apis M`: the scale-out shape without Docker."""

from __future__ import annotations

import pytest

from servflow.cli.main import build_parser
from servflow.cli.platform import replica_envs
from servflow.platform.settings import Settings


def test_run_takes_workers_and_api_replicas() -> None:
    args = build_parser().parse_args(["run", "--workers", "3", "--apis", "2"])
    assert (args.workers, args.apis) == (3, 2)
    defaults = build_parser().parse_args(["run"])
    assert (defaults.workers, defaults.apis) == (1, 1)


@pytest.mark.parametrize("flag", ["--workers", "--apis"])
def test_run_refuses_no_replicas(flag: str) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", flag, "0"])


def test_replicas_share_store_and_temporal_but_not_ports() -> None:
    settings = Settings(
        api_port=18190,
        worker_metrics_address="127.0.0.1:18195",
        database_url="postgresql+psycopg://u@db/servflow",
    )
    env = {"SERVFLOW_DATABASE_URL": settings.database_url, "SERVFLOW_TEMPORAL_ADDRESS": "t:7233"}
    workers, apis = replica_envs(env, settings, workers=3, apis=2)
    assert [e["SERVFLOW_API_PORT"] for e in apis] == ["18190", "18191"]
    assert [e["SERVFLOW_WORKER_METRICS_ADDRESS"] for e in workers[1:]] == [
        "127.0.0.1:18196",
        "127.0.0.1:18197",
    ]
    # One reconciler is enough: the other workers would repair the same orders at once.
    assert "SERVFLOW_RECONCILE_EVERY_SECONDS" not in workers[0]
    assert {e["SERVFLOW_RECONCILE_EVERY_SECONDS"] for e in workers[1:]} == {"0"}
    for replica in workers + apis:
        assert replica["SERVFLOW_DATABASE_URL"] == settings.database_url
        assert replica["SERVFLOW_TEMPORAL_ADDRESS"] == "t:7233"
