"""The API fixtures (demo data, a client on the app, a real worker) for the inventory API
tests, shared with tests/api."""

from tests.api.conftest import api, demo, headers, task_queue, worker  # noqa: F401
