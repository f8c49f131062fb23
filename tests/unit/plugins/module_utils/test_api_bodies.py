"""api/body.py through the WSGI app: the size limit (413) and every malformed body a 400, never a 5xx.

Most cases run in-process with falcon's test client (lab mode: no tokens);
one starts the service under gunicorn to see the 413 reach a client over a
real socket, declared or chunked, without the service reading the body.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sys

import pytest
from falcon import testing

from ansible_collections.fenix.maintenance.plugins.module_utils.api.app import ServiceConfig, build
from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import LaunchSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.api.body import (
    DEFAULT_MAX_BODY,
    MAX_DEPTH,
    BodyError,
    parse_body,
    parse_max_body,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.api.process import ApiSettings, start, stop
from ansible_collections.fenix.maintenance.plugins.module_utils.api.schema import INSTANCE_GROUP
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ConstraintNotFound
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

from keystone_server import service_clouds_yaml

GROUP = "/v1/instance_group/g1"
FIVE_MB = 5 * 1024 * 1024

# These tests are about the records: the service runs nothing.
RECORDS_ONLY = LaunchSettings(kind="none")


class CountingStream(io.BytesIO):
    """wsgi.input that counts the bytes the app reads from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def lab_client(tmp_path, **config):
    journal = str(tmp_path / "journal.sqlite")
    app, _service = build(ServiceConfig(journal=journal, auth="none", launch=RECORDS_ONLY, **config))
    client = testing.TestClient(app)
    client.journal = Journal(journal)
    return client


@pytest.fixture
def api(tmp_path):
    return lab_client(tmp_path)


def put_group(api, data: bytes, chunked: bool = False, declared=None):
    """PUT the bytes as a group's body, from a stream that counts what the app reads."""
    stream = CountingStream(data)
    extras = {"wsgi.input": stream}
    headers = {"Content-Type": "application/json"}
    if chunked:  # no Content-Length; the server ends the stream, as gunicorn does
        extras["wsgi.input_terminated"] = True
    else:
        headers["Content-Length"] = str(len(data) if declared is None else declared)
    response = api.simulate_request("PUT", GROUP, headers=headers, extras=extras)
    return response, stream.bytes_read


def message(response) -> str:
    return response.json["error"]["message"]


def test_a_declared_length_above_the_limit_is_413_before_any_byte_is_read(api):
    data = b'{"project_id": "pa", "x": "' + b"a" * FIVE_MB + b'"}'
    response, read = put_group(api, data)
    assert response.status_code == 413, response.text
    assert message(response) == ("body: Content-Length %d is above the limit of 1048576 bytes (FENIX_API_MAX_BODY)"
                                 % len(data))
    assert read == 0


def test_a_chunked_body_is_read_no_further_than_the_limit(api):
    response, read = put_group(api, b'{"project_id": "pa", "x": "' + b"a" * FIVE_MB + b'"}', chunked=True)
    assert response.status_code == 413, response.text
    assert message(response) == "body: longer than the limit of 1048576 bytes (FENIX_API_MAX_BODY)"
    assert read == DEFAULT_MAX_BODY + 1


def test_a_chunked_body_within_the_limit_is_read_whole(api):
    body = json.dumps({"project_id": "pa", "group_name": "x" * 200}).encode()
    response, read = put_group(api, body, chunked=True)
    assert response.status_code == 200, response.text
    assert read == len(body) and api.journal.constraint("instance_group", "g1")["group_name"] == "x" * 200


def test_a_body_of_exactly_the_limit_is_accepted(tmp_path):
    api = lab_client(tmp_path, max_body=100)
    body = json.dumps({"project_id": "pa", "group_name": ""}).encode()
    body = body.replace(b'""', b'"%s"' % (b"x" * (100 - len(body))))
    assert len(body) == 100
    assert put_group(api, body)[0].status_code == 200
    assert put_group(api, body, chunked=True)[0].status_code == 200
    longer = body[:-1] + b' }'
    assert put_group(api, longer)[0].status_code == 413
    assert put_group(api, longer, chunked=True)[0].status_code == 413


def test_a_length_that_lies_short_is_read_only_as_far_as_declared(api):
    # The WSGI server bounds the stream by Content-Length; the app does not read past it either.
    response, read = put_group(api, b'{"project_id": "pa"}' + b" " * FIVE_MB, declared=20)
    assert response.status_code == 200 and read == 20


def test_an_oversized_body_is_413_before_the_token_is_asked_for(tmp_path, monkeypatch):
    # Keystone mode: without a token the answer would be 401; the size is checked first, for free.
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", service_clouds_yaml(tmp_path))
    app, _service = build(ServiceConfig(journal=str(tmp_path / "j.sqlite"), auth="keystone", cloud="test",
                                        launch=RECORDS_ONLY))
    client = testing.TestClient(app)
    big = client.simulate_put(GROUP, headers={"Content-Length": str(FIVE_MB)}, body=b"{}")
    assert big.status_code == 413
    assert client.simulate_put(GROUP, body=b"{}").status_code == 401


@pytest.mark.parametrize("raw, text", [
    (b"[" * 100000, "body: nested deeper than %d levels of objects and arrays" % MAX_DEPTH),
    (b'{"metadata": ' * 50000, "body: nested deeper than %d levels of objects and arrays" % MAX_DEPTH),
    (b'{"project_id": "pa", "metadata": %s1%s}' % (b"[" * MAX_DEPTH, b"]" * MAX_DEPTH),
     "body: nested deeper than %d levels" % MAX_DEPTH),
    (b'{"project_id": "pa", "group_name": "\\ud800"}', "group_name: the string is not valid Unicode (a lone"),
    (b'{"project_id": "pa", "x": {"\\udfff": 1}}', "x: a member name is not valid Unicode"),
    (b'{"project_id": "pa", "recovery_time": NaN}', "body: not JSON (NaN is not a JSON number)"),
    (b'{"project_id": "pa", "x": -Infinity}', "body: not JSON (-Infinity is not a JSON number)"),
    (b'{"recovery_time": 1' + b"0" * 5000 + b"}", "body: not JSON (Exceeds the limit"),
    (b"\xff\xfe{", "body: not JSON ("),
    (b'{"a": 1', "body: not JSON (Expecting"),
    (b"   ", "body: missing; send a JSON object"),
    (b"[]", "body: [] is not of type 'object'"),
    (b'"x"', "body: 'x' is not of type 'object'"),
])
def test_malformed_bodies_are_400_naming_the_problem(api, raw, text):
    response, _read = put_group(api, raw)
    assert response.status_code == 400, response.text
    assert text in message(response)
    with pytest.raises(ConstraintNotFound):
        api.journal.constraint("instance_group", "g1")


def test_nesting_up_to_the_depth_limit_is_stored_and_served(api):
    # The body is level 1, so MAX_DEPTH - 1 more levels fit; the session detail renders them back.
    metadata = 1
    for _level in range(MAX_DEPTH - 1):
        metadata = {"a": metadata}
    created = api.simulate_post("/v1/maintenance", json={"hosts": [], "metadata": metadata})
    assert created.status_code == 200, created.text
    detail = api.simulate_get("/v1/maintenance/%s/detail" % created.json["session_id"])
    assert detail.status_code == 200
    too_deep = api.simulate_post("/v1/maintenance", json={"hosts": [], "metadata": {"a": metadata}})
    assert too_deep.status_code == 400 and "nested deeper than" in message(too_deep)


def test_a_schema_problem_quotes_the_value_at_most_300_characters(api):
    response, _read = put_group(api, json.dumps({"project_id": "pa", "group_name": "x" * 100000}).encode())
    assert response.status_code == 400
    assert message(response).startswith("group_name: 'xxx") and message(response).endswith("...")
    assert len(message(response)) == 300


def test_parse_body_errors_carry_their_status():
    with pytest.raises(BodyError) as raised:
        parse_body(b"[" * 5000, INSTANCE_GROUP)
    assert raised.value.code == 400 and "nested deeper" in raised.value.message
    assert parse_body(b'{"group_name": "db"}', INSTANCE_GROUP) == {"group_name": "db"}


def test_the_limit_comes_from_the_environment():
    assert ServiceConfig.from_environment({"FENIX_API_AUTH": "none"}).max_body == 1024 * 1024
    assert ServiceConfig.from_environment({"FENIX_API_AUTH": "none", "FENIX_API_MAX_BODY": "4096"}).max_body == 4096
    assert parse_max_body("") == DEFAULT_MAX_BODY
    for wrong in ("0", "-1", "1MiB", "1.5"):
        with pytest.raises(ValueError, match="FENIX_API_MAX_BODY: %r is not a positive number of bytes" % wrong):
            ServiceConfig.from_environment({"FENIX_API_AUTH": "none", "FENIX_API_MAX_BODY": wrong})


# Over a real socket: gunicorn serving the app, as the maintenance_api module runs it.

COLLECTIONS = next(path for path in sys.path  # tests/unit/conftest.py puts it there
                   if os.path.isdir(os.path.join(path, "ansible_collections", "fenix", "maintenance")))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("served")
    settings = ApiSettings(collections_path=COLLECTIONS, run_dir=str(workdir / "run"),
                           journal=str(workdir / "journal.sqlite"), bind="127.0.0.1:%d" % free_port(),
                           auth="none", workers=1, threads=2)
    start(settings, timeout=30)
    yield settings
    stop(settings, timeout=15)


def exchange(settings, head: str, parts) -> tuple:
    """(status, JSON body) of one request sent as raw bytes; the service may close before all were sent."""
    host, port = settings.bind.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            sock.sendall(head.encode() + b"\r\n")
            for part in parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the answer came before the body was all sent; it waits in the socket
        answer = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head, _blank, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_gunicorn_answers_413_to_declared_and_chunked_bodies(served):
    data = b'{"project_id": "pa", "x": "' + b"a" * FIVE_MB + b'"}'
    head = "PUT %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nConnection: close\r\n" % GROUP
    status, body = exchange(served, head + "Content-Length: %d\r\n" % len(data), [data])
    assert status == 413 and "Content-Length %d is above the limit" % len(data) in body["error"]["message"]
    chunks = [b"%x\r\n%s\r\n" % (len(data[at:at + 65536]), data[at:at + 65536]) for at in range(0, len(data), 65536)]
    status, body = exchange(served, head + "Transfer-Encoding: chunked\r\n", chunks + [b"0\r\n\r\n"])
    assert status == 413 and "longer than the limit" in body["error"]["message"]
    small = b'{"project_id": "pa", "group_name": "sent in chunks"}'
    status, body = exchange(served, head + "Transfer-Encoding: chunked\r\n",
                            [b"%x\r\n%s\r\n0\r\n\r\n" % (len(small), small)])
    assert status == 200 and body["group_name"] == "sent in chunks"
    nested = b"[" * 100000
    status, body = exchange(served, head + "Content-Length: %d\r\n" % len(nested), [nested])
    assert status == 400 and "nested deeper than" in body["error"]["message"]
