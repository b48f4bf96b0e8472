"""JSON log lines: one object per line, carrying the order (and node) they are about."""

from __future__ import annotations

import dataclasses
import io
import json
import logging

from temporalio import activity
from temporalio.testing import ActivityEnvironment

from servflow.platform.logs import JsonFormatter, bind_log_context, log_handler
from servflow.platform.settings import Settings


def json_lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def capture() -> tuple[logging.Logger, io.StringIO]:
    """A logger writing to a string through the handler configure_logging installs."""
    stream = io.StringIO()
    logger = logging.getLogger(f"tests.logs.{id(stream)}")
    logger.propagate = False
    logger.addHandler(log_handler("json", stream))
    logger.setLevel(logging.INFO)
    return logger, stream


def test_a_line_logged_in_an_activity_carries_its_order_id():
    logger, stream = capture()

    @activity.defn(name="log_probe")
    def log_probe() -> None:
        logger.info("派单完成")

    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="o-2026-0001")
    env.run(log_probe)
    [line] = json_lines(stream)
    assert line["order_id"] == "o-2026-0001"
    assert line["message"] == "派单完成"
    assert line["level"] == "INFO"
    assert line["logger"] == logger.name
    assert line["time"].endswith("+00:00")


def test_bound_fields_are_carried_only_inside_their_block():
    logger, stream = capture()
    with bind_log_context(order_id="o-7", node_id="signoff"):
        logger.warning("签收超时")
    logger.warning("no order here")
    inside, outside = json_lines(stream)
    assert (inside["order_id"], inside["node_id"]) == ("o-7", "signoff")
    assert "order_id" not in outside and "node_id" not in outside


def test_an_exception_is_one_line_with_its_traceback_inside():
    logger, stream = capture()
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("step failed")
    [line] = json_lines(stream)
    assert "ValueError: boom" in line["exception"]


def test_text_format_is_the_default_and_json_is_chosen_by_setting():
    assert Settings.model_fields["log_format"].default == "text"
    assert not isinstance(log_handler("text").formatter, JsonFormatter)
    assert isinstance(log_handler("json").formatter, JsonFormatter)
