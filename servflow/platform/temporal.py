"""The Temporal client every process uses, and the sandbox the workflows run in."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from servflow.platform.codec import codec_from_settings
from servflow.platform.settings import Settings

# Modules the workflow sandbox shares with the host instead of re-importing per run: our
# pure definition code and the libraries it stands on, all deterministic.
PASSTHROUGH_MODULES = ("workflows", "pydantic", "pydantic_core", "annotated_types", "simpleeval")


def sandbox_runner() -> SandboxedWorkflowRunner:
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    return SandboxedWorkflowRunner(restrictions=restrictions)


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic data converter with every payload encrypted (servflow.platform.codec),
    failure messages and stack traces included: they may quote a customer's data.

    Raises:
        WeakSecret: no usable settings.payload_key (outside the demo, which generates one).
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec_from_settings(settings),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """A client with the encrypting data converter, as the worker, the API and the CLI need
    (and all alike: what one encrypts, the others must read).

    Args:
        settings: address, namespace and payload key.
        runtime: the SDK runtime (e.g. one exporting Prometheus metrics); the default one
            when None.
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        runtime=runtime,
    )


def metrics_runtime(bind_address: str) -> Runtime | None:
    """A runtime serving the SDK's own metrics (workflow and activity task latencies,
    slots, polls) for Prometheus on `bind_address` ("host:port"); None when empty (off)."""
    if not bind_address:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))
