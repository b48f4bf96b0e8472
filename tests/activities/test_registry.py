from temporalio import activity

import workflows.nodes  # noqa: F401  (registers every node type)
from activities.registry import build_activities
from workflows.constants import ALL_ACTIVITIES
from workflows.nodes.base import NODE_TYPES


def names(deps):
    return [activity._Definition.must_from_callable(fn).name for fn in build_activities(deps)]


def test_every_activity_name_is_registered_once(deps):
    assert sorted(names(deps)) == sorted(ALL_ACTIVITIES)


def test_every_automatic_node_types_activity_is_registered(deps):
    registered = set(names(deps))
    needed = {cls.activity for cls in NODE_TYPES.values() if getattr(cls, "activity", None)}
    assert needed
    assert needed <= registered
