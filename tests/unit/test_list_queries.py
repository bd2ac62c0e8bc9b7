"""A list handler hands its declared parameters to its dialect's query parser as they are
(``**dict(locals())``): the two must name exactly the same parameters, or the first request
would be a TypeError."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from threadline.api.agentuity.query import agentuity_query
from threadline.api.native.query import native_query
from threadline_tools.template import load_module


def route_function(logical_id: str) -> Callable[..., Any]:
    module = vars(load_module(logical_id))
    (handler,) = [value for name, value in module.items() if name.startswith("handle_")]
    return handler  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("function", "parser"),
    [("ListThreadsFunction", native_query), ("AgentuityListThreadsFunction", agentuity_query)],
)
def test_the_handlers_parameters_are_the_parsers_keywords(function: str, parser: Callable[..., Any]) -> None:
    handler = inspect.signature(route_function(function)).parameters
    keywords = [name for name, p in inspect.signature(parser).parameters.items() if p.kind is p.KEYWORD_ONLY]
    assert list(handler) == keywords
    # and the handler gathers them first thing, before any other local exists
    source = inspect.getsource(route_function(function))
    body = source.split('"""')[2].strip().splitlines()
    assert body[0].startswith("query = dict(locals())")
