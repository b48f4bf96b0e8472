"""Inventory use cases: the parts catalogue and stock per warehouse, as routes, activities,
the CLI and other domains call them. Each use case lives in the module of its one job
(catalogue, warehouses, stock, opening, reported, journal, reservations, safety, alerts,
sourcing, transfers, consumption, order_steps); this module is where callers find them."""

from __future__ import annotations

from servflow.inventory.alerts import (
    AlertEntry,
    acknowledge_alert,
    page_alerts,
    scan_safety,
    set_safety,
)
from servflow.inventory.catalogue import (
    NewPart,
    add_parts,
    find_part,
    get_part_by_sku,
    page_parts,
    parts_by_sku,
    price_of,
    save_part,
)
from servflow.inventory.consumption import Consumed, consume_parts
from servflow.inventory.journal import (
    RECORDABLE,
    JournalMismatch,
    MovementDone,
    MovementEntry,
    codes_of,
    journal_mismatches,
    move,
    movement_entry,
    page_movements,
    record_movement,
)
from servflow.inventory.opening import OpeningStock, set_opening_stock
from servflow.inventory.order_steps import cancel_order_parts, consume_for_step, source_for_order
from servflow.inventory.reported import check_parts
from servflow.inventory.reservations import (
    RESERVATION_TTL,
    find_reservation,
    release,
    release_expired,
    release_for_caller,
    release_order,
    reserve,
    reserve_for_order,
)
from servflow.inventory.safety import DEMAND_WINDOW, check_safety, daily_demand, suggest
from servflow.inventory.sourcing import Location, plan_lines, source
from servflow.inventory.stock import StockEntry, page_stock, save_stock
from servflow.inventory.transfers import (
    TransferView,
    cancel_transfer,
    check_transfer_side,
    find_transfer,
    open_transfer,
    plan_transfer,
    receive_transfer,
    ship_transfer,
    transfers_of_order,
)
from servflow.inventory.warehouses import (
    find_warehouse,
    page_warehouses,
    save_warehouse,
    set_warehouse_kind,
)

__all__ = [
    "DEMAND_WINDOW",
    "RECORDABLE",
    "RESERVATION_TTL",
    "AlertEntry",
    "Consumed",
    "JournalMismatch",
    "Location",
    "MovementDone",
    "MovementEntry",
    "NewPart",
    "OpeningStock",
    "StockEntry",
    "TransferView",
    "acknowledge_alert",
    "add_parts",
    "cancel_order_parts",
    "cancel_transfer",
    "check_parts",
    "check_safety",
    "check_transfer_side",
    "codes_of",
    "consume_for_step",
    "consume_parts",
    "daily_demand",
    "find_part",
    "find_reservation",
    "find_transfer",
    "find_warehouse",
    "get_part_by_sku",
    "journal_mismatches",
    "move",
    "movement_entry",
    "open_transfer",
    "page_alerts",
    "page_movements",
    "page_parts",
    "page_stock",
    "page_warehouses",
    "parts_by_sku",
    "plan_lines",
    "plan_transfer",
    "price_of",
    "receive_transfer",
    "record_movement",
    "release",
    "release_expired",
    "release_for_caller",
    "release_order",
    "reserve",
    "reserve_for_order",
    "save_part",
    "save_stock",
    "save_warehouse",
    "scan_safety",
    "set_opening_stock",
    "set_safety",
    "set_warehouse_kind",
    "ship_transfer",
    "source",
    "source_for_order",
    "suggest",
    "transfers_of_order",
]
