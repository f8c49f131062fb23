"""Property-based fuzzing of the live API from its own OpenAPI document: no answer is a 5xx.

schemathesis draws requests (valid and invalid bodies, odd path values)
from the document the service publishes and sends them, with an admin's
Keystone token, to the service run by gunicorn. Two bodies it would not
draw are sent as raw bytes: one nested 100,000 levels deep (400) and one of
5 MB, declared and chunked (413, answered before the service reads it).
"""

from __future__ import annotations

import json
import socket

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


def send_raw(head: str, parts) -> tuple:
    """(status, JSON body) of one request to the service, sent as bytes; it may answer before all is sent."""
    with socket.create_connection(("127.0.0.1", PORT), timeout=30) as sock:
        try:
            sock.sendall(head.encode() + b"\r\n")
            for part in parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the service answered and closed; the answer waits in the socket
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    status_line, _blank, body = answer.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(body)


def request_head(method: str, path: str, token: str) -> str:
    return ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: %s\r\nContent-Type: application/json\r\n"
            "Connection: close\r\n" % (method, path, token))


def test_deeply_nested_body_is_400(fuzzed_service, tokens):
    nested = b"[" * 100000
    head = request_head("POST", "/v1/maintenance", tokens["fenix-admin"].token)
    status, body = send_raw(head + "Content-Length: %d\r\n" % len(nested), [nested])
    assert status == 400 and body["error"]["message"] == "body: nested deeper than 32 levels of objects and arrays"


def test_five_megabyte_body_is_413_declared_or_chunked(fuzzed_service, tokens):
    admin = tokens["fenix-admin"].token
    sessions = send_raw(request_head("GET", "/v1/maintenance", admin), [])
    data = json.dumps({"hosts": [], "metadata": {"padding": "x" * (5 * 1024 * 1024)}}).encode()
    head = request_head("POST", "/v1/maintenance", admin)
    status, body = send_raw(head + "Content-Length: %d\r\n" % len(data), [data])
    assert status == 413 and body["error"]["message"] == (
        "body: Content-Length %d is above the limit of 1048576 bytes (FENIX_API_MAX_BODY)" % len(data))
    chunks = [b"%x\r\n%s\r\n" % (len(data[at:at + 65536]), data[at:at + 65536])
              for at in range(0, len(data), 65536)]
    status, body = send_raw(head + "Transfer-Encoding: chunked\r\n", chunks + [b"0\r\n\r\n"])
    assert status == 413 and body["error"]["message"] == (
        "body: longer than the limit of 1048576 bytes (FENIX_API_MAX_BODY)")
    assert send_raw(request_head("GET", "/v1/maintenance", admin), []) == sessions  # neither made a session
