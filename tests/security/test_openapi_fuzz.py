"""Schemathesis against the OpenAPI document: no generated request makes the API fail with a 5xx.

Every operation in `/api/v1/openapi.json` gets its explicit examples, schemathesis' coverage cases
(boundary values, valid and invalid by the schema) and a bounded number of random requests, sent
in-process to the ASGI app with the bearer token of the Bureau's administrator (the widest role)
and, for requests the schema allows, of a department's data administrator too. Checked: no server
error, and answers conform to their declared response schema; refusals (401/403/404/409/422 …) are
the right answer to most generated requests.
Generation is derandomized so that a failure reproduces; raise FUZZ_EXAMPLES locally to dig deeper.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from govshare.db import reads_first, transaction
from govshare.web.app import create_app
from tests.helpers import login

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
# No 5xx, and every answer matches the response schema its operation declares (routes that declare
# none are held to nothing by the second check).
CHECKS = [not_a_server_error, response_schema_conformance]

# Per call; schemathesis' default (10 s) has been overrun by a plain GET on a CI machine busy with two
# runs at once.
REQUEST_SECONDS = 60

# Operations that end the caller's own credentials would only test 401s for the rest of the run.
SKIPPED = {("POST", "/api/v1/auth/logout")}


# One app for the module: schemathesis reads its OpenAPI document at collection time (its fixture-based
# loader does not work with this pytest). Each test points the app's units of work at that test's
# rolled-back transaction, as the `app` fixture of conftest.py does.
APP = create_app(run_jobs=False)
# Requests with methods an operation does not declare only exercise the framework's 405: skipped.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"unexpected-methods": []}}})
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP, config=CONFIG)
if os.environ.get("FUZZ_PATHS"):  # e.g. FUZZ_PATHS=/api/v1/users to dig into one area
    schema = schema.include(path_regex=os.environ["FUZZ_PATHS"])


@pytest.fixture
def callers(engine: Engine, db: Session) -> list[dict[str, str]]:
    APP.state.unit_of_work = lambda: transaction(db)
    APP.state.reads_first = lambda deferred=None, inline=False: reads_first(
        engine, within=db, deferred=deferred, inline=inline
    )
    with TestClient(APP, client=("127.0.0.1", 50000)) as client:
        return [login(client, "bureau_admin"), login(client, "police_admin")]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_causes_a_server_error(case: Any, callers: list[dict[str, str]]) -> None:
    if (case.method.upper(), case.path) in SKIPPED:
        return
    bureau, department = callers
    # Requests the schema allows go to both; requests it forbids (most end in 422) to the Bureau only.
    positive = case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE
    for headers in (bureau, department) if positive else (bureau,):
        # Latency is the benchmarks' business: a generous deadline keeps a busy CI machine from
        # failing a call that answers correctly, and still turns a hang into a failure.
        response = case.call(headers=headers, timeout=REQUEST_SECONDS)
        case.validate_response(response, checks=CHECKS)
