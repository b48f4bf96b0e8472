"""The master-data registry agrees with the domain use cases it names."""

from __future__ import annotations

import inspect

import pytest

from servflow.masterdata.registry import KINDS, get_kind


@pytest.mark.parametrize("name", list(KINDS))
def test_every_row_field_is_a_keyword_of_the_kinds_save(name):
    kind = KINDS[name]
    params = inspect.signature(kind.save).parameters
    assert "scope_path" in params
    assert set(kind.row.model_fields) <= set(params)
    if kind.key is not None and not kind.key.in_body:
        assert kind.key.param in params


@pytest.mark.parametrize("name", list(KINDS))
def test_every_kinds_page_and_find_take_what_the_routes_pass(name):
    kind = KINDS[name]
    page = inspect.signature(kind.page).parameters
    filters = set(kind.filters.model_fields) if kind.filters else set()
    assert {"scope_path", "limit", "offset"} | filters <= set(page)
    if kind.key is not None:
        assert {kind.key.param, "scope_path"} <= set(inspect.signature(kind.key.find).parameters)
        if kind.key.in_body:
            assert kind.key.param in kind.row.model_fields


def test_an_unknown_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown master-data kind 'spaceships'"):
        get_kind("spaceships")
