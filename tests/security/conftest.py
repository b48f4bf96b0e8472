"""The attack suite runs against the real app with the API tests' fixtures."""

from tests.api.conftest import api, demo, headers, task_queue, worker

__all__ = ["api", "demo", "headers", "task_queue", "worker"]
