"""Every domain's tables in one metadata: imported by Alembic and by each entry point (API,
worker, CLI, tests), so relationships between domains resolve before the first query."""

from servflow.billing import models as billing_models
from servflow.customers import models as customers_models
from servflow.definitions import models as definitions_models
from servflow.dispatch import models as dispatch_models
from servflow.integrations import models as integrations_models
from servflow.integrations.uploads import models as uploads_models
from servflow.inventory import models as inventory_models
from servflow.ledger import models as ledger_models
from servflow.notify import models as notify_models
from servflow.orders import models as orders_models
from servflow.org import models as org_models
from servflow.platform import models as platform_models
from servflow.platform.base import Base
from servflow.reporting import models as reporting_models
from servflow.sla import models as sla_models

DOMAIN_MODELS = (
    billing_models,
    customers_models,
    definitions_models,
    dispatch_models,
    integrations_models,
    inventory_models,
    ledger_models,
    notify_models,
    orders_models,
    org_models,
    platform_models,
    reporting_models,
    sla_models,
    uploads_models,
)
metadata = Base.metadata
