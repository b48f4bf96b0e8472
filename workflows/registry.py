"""The workflows a worker registers (worker.py and the tests use the same list)."""

from workflows.interpreter import WorkOrderWorkflow
from workflows.settlement_run import SettlementRunWorkflow
from workflows.transfer import InventoryScanWorkflow, TransferWorkflow

WORKFLOWS: list[type] = [
    WorkOrderWorkflow,
    TransferWorkflow,
    InventoryScanWorkflow,
    SettlementRunWorkflow,
]
