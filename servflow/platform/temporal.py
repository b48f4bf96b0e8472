"""The Temporal client every process uses, and the sandbox the workflows run in."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from servflow.platform.settings import Settings

# Modules the workflow sandbox shares with the host instead of re-importing per run: our
# pure definition code and the libraries it stands on, all deterministic.
PASSTHROUGH_MODULES = ("workflows", "pydantic", "pydantic_core", "annotated_types", "simpleeval")


def sandbox_runner() -> SandboxedWorkflowRunner:
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    return SandboxedWorkflowRunner(restrictions=restrictions)


async def connect(settings: Settings) -> Client:
    """A client with the pydantic data converter, as the worker, the API and the CLI need."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )
