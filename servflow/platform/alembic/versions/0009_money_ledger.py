"""money ledger: price rules, revenue-share agreements, statements, and the append-only
hash-chained journal (entries, stream heads, signed checkpoints) with its triggers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 11:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)
MONEY = sa.Numeric(18, 2)
OLD_KINDS = "payee_kind IN ('outlet', 'engineer', 'branch', 'hq')"
NEW_KINDS = "payee_kind IN ('outlet', 'engineer', 'branch', 'hq', 'region', 'agent')"

# The append-only triggers, as servflow.ledger.models creates them with the tables.
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: correct an entry by a reversal', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql
"""
PG_TRIGGERS = (
    "CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry"
    " FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
    "CREATE TRIGGER ledger_checkpoint_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoint"
    " FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON ledger_entry"
    " BEGIN SELECT RAISE(ABORT, 'ledger_entry is append-only: correct by a reversal'); END",
    "CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON ledger_entry"
    " WHEN EXISTS (SELECT 1 FROM ledger_stream WHERE ledger_stream.name = OLD.stream)"
    " BEGIN SELECT RAISE(ABORT, 'ledger_entry is append-only: correct by a reversal'); END",
    "CREATE TRIGGER ledger_checkpoint_no_update BEFORE UPDATE ON ledger_checkpoint"
    " BEGIN SELECT RAISE(ABORT, 'ledger_checkpoint is append-only'); END",
)


def _versioned(name: str, *columns: sa.schema.SchemaItem) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *columns,
        sa.Column("scope_path", sa.String(length=400), nullable=False),
        sa.Column("job_type", sa.String(length=64), nullable=False),
        sa.Column("condition", sa.String(length=500), nullable=False),
        sa.Column("valid_from", UTC, nullable=False),
        sa.Column("valid_to", UTC, nullable=True),
        sa.Column("retired_at", UTC, nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("code", "version", name=op.f(f"uq_{name}_code_version")),
    )
    op.create_index(op.f(f"ix_{name}_code"), name, ["code"], unique=False)
    op.create_index(op.f(f"ix_{name}_scope_path"), name, ["scope_path"], unique=False)


def upgrade() -> None:
    _versioned(
        "price_rule",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint(
            "kind IN ('rate', 'coefficient', 'surcharge', 'tax', 'fx', 'deduction')",
            name=op.f("ck_price_rule_rule_kind"),
        ),
    )
    _versioned(
        "share_agreement",
        sa.Column("parties", JSON, nullable=False),
        sa.Column("tiers", JSON, nullable=False),
    )
    op.create_table(
        "statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("party_kind", sa.String(length=16), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("party_path", sa.String(length=400), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dispute_reason", sa.String(length=1000), nullable=False),
        sa.Column("answered_by", sa.String(length=100), nullable=False),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'confirmed', 'disputed')",
            name=op.f("ck_statement_statement_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement")),
        sa.UniqueConstraint(
            "period",
            "party_kind",
            "party_id",
            "currency",
            name=op.f("uq_statement_period_party_kind_party_id_currency"),
        ),
    )
    op.create_index(op.f("ix_statement_period"), "statement", ["period"], unique=False)
    op.create_index(op.f("ix_statement_party_path"), "statement", ["party_path"], unique=False)
    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("debit_account", sa.String(length=160), nullable=False),
        sa.Column("credit_account", sa.String(length=160), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ref", sa.String(length=120), nullable=False),
        sa.Column("party", sa.String(length=160), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("memo", sa.String(length=400), nullable=False),
        sa.Column("reverses_seq", sa.Integer(), nullable=True),
        sa.Column("occurred_at", UTC, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_entry_amount_positive")),
        sa.CheckConstraint(
            "debit_account <> credit_account", name=op.f("ck_ledger_entry_two_accounts")
        ),
        sa.CheckConstraint(
            "kind IN ('accrual', 'payout', 'reversal', 'adjustment')",
            name=op.f("ck_ledger_entry_entry_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
        sa.UniqueConstraint("stream", "seq", name=op.f("uq_ledger_entry_stream_seq")),
    )
    op.create_index(op.f("ix_ledger_entry_ref"), "ledger_entry", ["ref"], unique=False)
    op.create_table(
        "ledger_stream",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("head_seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("head_entry_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["head_entry_id"],
            ["ledger_entry.id"],
            name=op.f("fk_ledger_stream_head_entry_id_ledger_entry"),
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ledger_stream")),
    )
    op.create_table(
        "ledger_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", UTC, nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entry.id"],
            name=op.f("fk_ledger_checkpoint_entry_id_ledger_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoint")),
        sa.UniqueConstraint(
            "stream", "seq", "key_id", name=op.f("uq_ledger_checkpoint_stream_seq_key_id")
        ),
    )
    op.create_index(
        op.f("ix_ledger_checkpoint_stream"), "ledger_checkpoint", ["stream"], unique=False
    )
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("party_path", sa.String(length=400), nullable=False, server_default="")
        )
        batch_op.drop_constraint(op.f("ck_payout_payee_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_payout_payee_kind"), NEW_KINDS)
    if op.get_bind().dialect.name == "postgresql":
        for statement in (PG_FUNCTION, *PG_TRIGGERS):
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payout_payee_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_payout_payee_kind"), OLD_KINDS)
        batch_op.drop_column("party_path")
    op.drop_index(op.f("ix_ledger_checkpoint_stream"), table_name="ledger_checkpoint")
    op.drop_table("ledger_checkpoint")
    op.drop_table("ledger_stream")
    op.drop_index(op.f("ix_ledger_entry_ref"), table_name="ledger_entry")
    op.drop_table("ledger_entry")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_append_only()")
    op.drop_index(op.f("ix_statement_party_path"), table_name="statement")
    op.drop_index(op.f("ix_statement_period"), table_name="statement")
    op.drop_table("statement")
    for name in ("share_agreement", "price_rule"):
        op.drop_index(op.f(f"ix_{name}_scope_path"), table_name=name)
        op.drop_index(op.f(f"ix_{name}_code"), table_name=name)
        op.drop_table(name)
