"""The workflows a worker registers (worker.py and the tests use the same list)."""

from workflows.interpreter import WorkOrderWorkflow

WORKFLOWS: list[type] = [WorkOrderWorkflow]
