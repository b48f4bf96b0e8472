"""Migration 0012 grants the files already referenced — photos and signatures in a step's
data, customers' signatures — so that nobody loses a file they could read before."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from servflow.platform.base import utcnow
from servflow.platform.db import make_engine
from servflow.platform.migrate import upgrade

PATH = "/hq/huabei/bj-branch/bj-001"
PHOTOS = [f"{'a' * 31}{n}.jpg" for n in (1, 2)]
SIGNED = f"{'b' * 32}.png"
CUSTOMER = f"{'c' * 32}.png"


def insert(connection: Any, name: str, **values: Any) -> int:
    """A row of `name` as the schema stands at 0011 (reflected: later migrations of other
    tables change nothing here); required columns not given get an empty value."""
    table = sa.Table(name, sa.MetaData(), autoload_with=connection)
    for column in table.columns:
        if column.name in values or column.nullable or column.primary_key:
            continue
        if column.server_default is not None:
            continue
        kind = column.type
        if isinstance(kind, sa.DateTime):
            values[column.name] = utcnow()
        elif isinstance(kind, sa.Boolean):
            values[column.name] = False
        elif isinstance(kind, sa.Integer | sa.Numeric):
            values[column.name] = 0
        elif isinstance(kind, sa.JSON):
            values[column.name] = {}
        else:
            values[column.name] = ""
    result = connection.execute(table.insert().values(**values))
    return int(result.inserted_primary_key[0])


def test_files_referenced_before_the_migration_get_their_grants(make_database_url):
    url = make_database_url()
    upgrade(url, "0011")
    engine = make_engine(url)
    with engine.begin() as connection:
        user_id = insert(connection, "app_user", username="engineer_old", roles=["engineer"])
        insert(connection, "work_order", order_id="wo-old", org_path=PATH, region="huabei")
        insert(
            connection,
            "work_order_step",
            order_id="wo-old",
            node_id="install",
            visit=1,
            node_type="service",
            actor="engineer_old",
            data={"photos": PHOTOS, "signature": SIGNED, "note": "see photo.jpg"},
        )
        insert(
            connection,
            "survey",
            order_id="wo-old",
            org_path=PATH,
            rating=9,
            signature_file=CUSTOMER,
        )
    upgrade(url)
    with engine.connect() as connection:
        grants = set(
            connection.execute(
                sa.text(
                    "SELECT file_id, uploaded_by, order_id, node_id, org_path FROM upload_grant"
                )
            ).tuples()
        )
    engine.dispose()
    assert grants == {
        (PHOTOS[0], user_id, "wo-old", "install", PATH),
        (PHOTOS[1], user_id, "wo-old", "install", PATH),
        (SIGNED, user_id, "wo-old", "install", PATH),
        (CUSTOMER, None, "wo-old", "signoff", PATH),
    }
