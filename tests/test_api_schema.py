"""Schemathesis over the OpenAPI document: generated requests to every operation (as a
national admin, on a registry of a few families) never get a 5xx, and every answer conforms
to the document (status, content type, body schema, headers).

The operations are driven one by one with Hypothesis inside one test per backend
(schemathesis's own pytest fixture loader does not run under pytest 9), a bounded number of
examples each so that the whole takes well under a minute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from sqlalchemy.engine import Engine

from api_helpers import make_api
from factories import family, write_batch
from helpers import run_import

EXAMPLES = 12  # per operation


@pytest.mark.usefixtures("users")
def test_no_server_error_and_every_answer_as_documented(engine: Engine, tmp_path: Path) -> None:
    households, members = [], []
    for serial in (1, 2):
        h, ms = family(serial)
        households.append(h)
        members.extend(ms)
    run_import(engine, write_batch(tmp_path / "batch", households, members), status="approved")
    api = make_api(engine, tmp_path / "data", ["admin"])
    headers = {"Authorization": f"Bearer {api.tokens['admin']}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.client.app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(headers=headers)

        conforms()
