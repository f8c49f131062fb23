"""Property-based fuzzing of the live API from its own OpenAPI document: no answer is a 5xx.

schemathesis draws requests (valid and invalid bodies, odd path values)
from the document the service publishes and sends them, with an admin's
Keystone token, to the service run by gunicorn.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from ansible_collections.fenix.maintenance.plugins.module_utils.api.schema import openapi_document

from conftest import ApiService

PORT = 12350
BASE_URL = "http://127.0.0.1:%d" % PORT
schema = schemathesis.openapi.from_dict(openapi_document(BASE_URL))


@pytest.fixture(scope="module")
def fuzzed_service(test_cloud, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("fuzz")
    service = ApiService(str(workdir / "run"), str(workdir / "journal.sqlite"), port=PORT).start()
    yield service
    service.stop()


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, fuzzed_service, tokens):
    response = case.call(base_url=BASE_URL, headers={"X-Auth-Token": tokens["fenix-admin"].token})
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500, response.text
