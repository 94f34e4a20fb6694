"""The access log's request line keeps the query parameters' names and drops their values."""

from __future__ import annotations

import logging

import pytest

from govshare.web.access_log import ACCESS_LOGGER, QueryValuesDropped, drop_query_values, without_query_values


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/healthz", "/healthz"),
        (
            "/api/v1/resources/7/rows?purpose=%E6%A0%B8%E6%9F%A5&id_number=130102198503177713",
            "/api/v1/resources/7/rows?purpose&id_number",
        ),
        ("/x?b=1&b=2&flag&empty=", "/x?b&b&flag&empty"),
        ("/x?", "/x?"),
        ("/x?a=1=2", "/x?a"),
    ],
)
def test_values_are_dropped_and_names_kept(path: str, logged: str) -> None:
    assert without_query_values(path) == logged


def test_the_filter_rewrites_uvicorn_access_records_and_nothing_else() -> None:
    record = logging.LogRecord(
        ACCESS_LOGGER,
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/rows?mobile=13912345678", "1.1", 200),
        None,
    )
    assert QueryValuesDropped().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5000 - "GET /rows?mobile HTTP/1.1" 200'
    other = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, "%s", ("/rows?mobile=1",), None)
    assert QueryValuesDropped().filter(other) is True and other.getMessage() == "/rows?mobile=1"


def test_it_is_installed_once() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    drop_query_values()
    drop_query_values()
    assert sum(isinstance(f, QueryValuesDropped) for f in logger.filters) == 1
