"""The server's access log without the values of query parameters.

The data API takes its filters in the query string (`?purpose=…&id_number=130102…`), so the request
lines that uvicorn writes to its access log would carry 身份证号, names and mobile numbers in clear
text into a log that operators, log shippers and backups handle with far less care than the
database. The delivery's audit event already records who asked for what, under the audit log's
protection; the access log keeps what operations need: who, which route, the parameters' names,
the status.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


def without_query_values(path: str) -> str:
    """`path` with each query parameter's value dropped: `/x?a=1&b=2&b=3` → `/x?a&b&b`."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    return base + "?" + "&".join(part.partition("=")[0] for part in query.split("&"))


class QueryValuesDropped(logging.Filter):
    """Rewrites uvicorn's access records (client, method, path, HTTP version, status) so that the
    path keeps its parameters' names only."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], without_query_values(args[2]), args[3], args[4])
        return True


def drop_query_values() -> None:
    """Install the filter on uvicorn's access logger (once per process)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, QueryValuesDropped) for f in logger.filters):
        logger.addFilter(QueryValuesDropped())
