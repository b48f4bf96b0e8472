"""Names, timeouts and retry policies shared by the interpreter, worker, API and tests."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy, SearchAttributeKey

TASK_QUEUE = "servflow"
INTERPRETER_WORKFLOW = "WorkOrder"

# The interpreter's message handlers: the API calls them by these names.
UPDATE_SUBMIT_STEP = "submit_step"
SIGNAL_CANCEL = "cancel"
SIGNAL_REASSIGN = "reassign"
SIGNAL_ADD_NOTE = "add_note"
# Pause and resume a step's business-time SLA clock (waiting for the customer or for parts).
SIGNAL_SLA_PAUSE = "sla_pause"
SIGNAL_SLA_RESUME = "sla_resume"
QUERY_STATE = "state"

# Activity names, one per automatic node type, plus the one that closes an order whose
# last step was human (no activity left to carry the final read-model write).
ACTIVITY_REPORT = "report"
ACTIVITY_DISPATCH = "dispatch"
ACTIVITY_SETTLEMENT = "settlement"
ACTIVITY_NOTIFY = "notify"
ACTIVITY_CLOSE_ORDER = "close_order"
# A local activity: writes a human step that starts waiting (and for whom) to the read model.
ACTIVITY_RECORD_WAITING = "record_waiting"
# Business-time SLAs (servflow.sla): start, pause or resume a step's clock; fire a ladder level.
ACTIVITY_SLA_CLOCK = "sla_clock"
ACTIVITY_SLA_ESCALATE = "sla_escalate"
# Inventory: the transfer saga (workflows/transfer.py), its messages and activity, the
# scheduled safety-stock scan, and the parts node's sourcing activity.
TRANSFER_WORKFLOW = "StockTransfer"
UPDATE_TRANSFER_SHIP = "ship"
UPDATE_TRANSFER_RECEIVE = "receive"
SIGNAL_TRANSFER_CANCEL = "cancel"
QUERY_TRANSFER = "transfer"
ACTIVITY_INVENTORY_TRANSFER = "inventory_transfer"
INVENTORY_SCAN_WORKFLOW = "InventoryScan"
ACTIVITY_INVENTORY_SCAN = "inventory_scan"
ACTIVITY_SOURCE_PARTS = "source_parts"
ACTIVITY_CONSUME_PARTS = "consume_parts"
# Money: the monthly settlement run (workflows/settlement_run.py), started by a Schedule.
SETTLEMENT_RUN_WORKFLOW = "SettlementRun"
ACTIVITY_SETTLEMENT_RUN = "settlement_run"
ALL_ACTIVITIES = (
    ACTIVITY_REPORT,
    ACTIVITY_DISPATCH,
    ACTIVITY_SETTLEMENT,
    ACTIVITY_NOTIFY,
    ACTIVITY_CLOSE_ORDER,
    ACTIVITY_RECORD_WAITING,
    ACTIVITY_SLA_CLOCK,
    ACTIVITY_SLA_ESCALATE,
    ACTIVITY_SOURCE_PARTS,
    ACTIVITY_CONSUME_PARTS,
    ACTIVITY_INVENTORY_TRANSFER,
    ACTIVITY_INVENTORY_SCAN,
    ACTIVITY_SETTLEMENT_RUN,
)

# Failure types (`ApplicationError.type`): activities raise the first two for business
# failures, never retried; an order that fails ends with the third.
ERROR_BUSINESS_RULE = "BusinessRuleViolation"
ERROR_INVALID_INPUT = "InvalidInput"
ERROR_ORDER_FAILED = "OrderFailed"

ACTIVITY_START_TO_CLOSE = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,  # business failures are non-retryable ApplicationErrors
    non_retryable_error_types=[ERROR_BUSINESS_RULE, ERROR_INVALID_INPUT],
)

# The read model's copy of a waiting step is a convenience: a few quick tries, then the
# order goes on (its next activity writes the step anyway).
RECORD_WAITING_TIMEOUT = timedelta(seconds=10)
RECORD_WAITING_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)

# Events after which a long-lived order continues as new between two nodes.
CONTINUE_AS_NEW_AFTER_EVENTS = 10_000

SA_REGION = SearchAttributeKey.for_keyword("Region")
SA_OUTLET = SearchAttributeKey.for_keyword("Outlet")
SA_DEFINITION_KEY = SearchAttributeKey.for_keyword("DefinitionKey")
SA_DEFINITION_VERSION = SearchAttributeKey.for_int("DefinitionVersion")
SA_STATUS = SearchAttributeKey.for_keyword("Status")
SA_CURRENT_NODE = SearchAttributeKey.for_keyword("CurrentNode")
SA_PRIORITY = SearchAttributeKey.for_int("Priority")
SEARCH_ATTRIBUTES = {
    "Region": "Keyword",
    "Outlet": "Keyword",
    "DefinitionKey": "Keyword",
    "DefinitionVersion": "Int",
    "Status": "Keyword",
    "CurrentNode": "Keyword",
    "Priority": "Int",
}
