"""The API service in-process (falcon's test client) behind keystonemiddleware's auth_token: rules, codes, messages.

Tokens come from keystonemiddleware's AuthTokenFixture (keystone_server.issued); the tests of what the
fixture skips (auth_token's cache, its conversation with Keystone) use a local Keystone over HTTP.
"""

from __future__ import annotations

import datetime
import socket
import subprocess
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from falcon import testing
from openstack import exceptions

from ansible_collections.fenix.maintenance.plugins.module_utils.api.app import (
    ServiceConfig,
    _connect_cloud,
    build,
    warm_up,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import LaunchSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.api.schema import ROUTES, openapi_document
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.token_cache import save_token
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.lease_keeper import RunProcess, process_space
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ConstraintNotFound
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.processes import process_stat

from fakes import FakeCloud, authenticated
from keystone_server import KeystoneServer, issued, service_clouds_yaml

TOKENS = {
    "admin-token": ("admin-project", ["admin", "member"]),
    "a-token": ("pa", ["member"]),
    "b-token": ("pb", ["member"]),
}

# These tests are about the records: the service runs nothing.
RECORDS_ONLY = LaunchSettings(kind="none")


@pytest.fixture
def keystone(tmp_path, monkeypatch):
    """auth_token configured from clouds.yaml entry "test", accepting the TOKENS (AuthTokenFixture)."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", service_clouds_yaml(tmp_path))
    with issued(TOKENS) as tokens:
        yield tokens


@pytest.fixture
def cloud():
    return FakeCloud()


@pytest.fixture
def api(tmp_path, cloud, keystone):
    journal = str(tmp_path / "journal.sqlite")
    app, service = build(ServiceConfig(journal=journal, auth="keystone", cloud="test", launch=RECORDS_ONLY), connect=lambda: cloud)
    client = testing.TestClient(app)
    client.journal = Journal(journal)
    client.service = service
    return client


def call(api, method, path, token="admin-token", body=None, raw=None):
    headers = {"X-Auth-Token": token} if token else {}
    if raw is not None:
        return api.simulate_request(method, path, headers=headers, body=raw)
    return api.simulate_request(method, path, headers=headers, json=body)


def asked_session(api, cloud):
    """A session on compute1 where project pa was asked about PLANNED_MAINTENANCE for two servers."""
    sid = call(api, "POST", "/v1/maintenance", body={"hosts": ["compute1"], "state": "MAINTENANCE"}).json["session_id"]
    vm1 = cloud.add_server("compute1", project_id="pa")
    vm2 = cloud.add_server("compute1", project_id="pa")
    for server_id in (vm1, vm2):
        api.journal.set_instance(sid, server_id, "pa", host="compute1")
    api.journal.notify_project(sid, "pa", "PLANNED_MAINTENANCE", instance_ids=[vm1, vm2],
                               allowed_actions=["MIGRATE", "LIVE_MIGRATE"])
    return sid, vm1, vm2


def test_tokens_are_required_and_checked(api):
    missing = call(api, "GET", "/v1/maintenance", token=None)
    assert missing.status_code == 401 and "X-Auth-Token: missing" in missing.json["error"]["message"]
    assert call(api, "GET", "/v1/maintenance", token="forged").status_code == 401
    assert call(api, "GET", "/v1/maintenance", token="a-token").status_code == 403
    assert call(api, "GET", "/v1/maintenance").json == {"session_id": []}
    # Public: the version document and the OpenAPI document.
    assert call(api, "GET", "/", token=None).status_code == 200
    assert call(api, "GET", "/v1/openapi.json", token=None).json["openapi"] == "3.1.0"


def test_identity_headers_from_the_client_are_not_trusted(api):
    # auth_token removes them before it writes its own: a forged admin is what the token says it is.
    forged = {"X-Identity-Status": "Confirmed", "X-Roles": "admin", "X-Project-Id": "admin-project",
              "X-User-Id": "u-admin-project"}
    assert api.simulate_get("/v1/maintenance", headers=forged).status_code == 401
    assert api.simulate_get("/v1/maintenance", headers=dict(forged, **{"X-Auth-Token": "forged"})).status_code == 401
    member = api.simulate_get("/v1/maintenance", headers=dict(forged, **{"X-Auth-Token": "a-token"}))
    assert member.status_code == 403 and member.json["error"]["message"] == (
        "this endpoint needs a token with the admin role (policy rule maintenance:list_sessions)")


def test_a_401_says_where_to_get_a_token(api):
    refused = call(api, "GET", "/v1/maintenance", token=None)
    assert refused.headers["WWW-Authenticate"] == 'Keystone uri="http://keystone.invalid:5000/v3"'
    assert "WWW-Authenticate" not in call(api, "GET", "/v1/maintenance", token="a-token").headers


def test_an_expired_token_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", service_clouds_yaml(tmp_path))
    app, _service = build(ServiceConfig(journal=str(tmp_path / "j.sqlite"), auth="keystone", cloud="test",
                                        launch=RECORDS_ONLY))
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
    with issued({"old-token": ("admin-project", ["admin"])}, expires=past):
        refused = call(testing.TestClient(app), "GET", "/v1/maintenance", token="old-token")
    assert refused.status_code == 401 and "Keystone does not accept the token" in refused.json["error"]["message"]


def test_token_validations_are_cached(tmp_path, monkeypatch):
    # Through auth_token's real conversation with Keystone (over HTTP): it logs in as the service user of
    # clouds.yaml once, validates each token once, and answers from its cache afterwards.
    with KeystoneServer(TOKENS) as keystone:
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", keystone.clouds_yaml(tmp_path))
        app, _service = build(ServiceConfig(journal=str(tmp_path / "j.sqlite"), auth="keystone", cloud="test",
                                            launch=RECORDS_ONLY))
        api = testing.TestClient(app)
        for _attempt in range(5):
            assert call(api, "GET", "/v1/maintenance").status_code == 200
        assert call(api, "GET", "/v1/maintenance", token="a-token").status_code == 403
        assert call(api, "GET", "/v1/maintenance", token="a-token").status_code == 403
        assert (keystone.validations, keystone.service_logins) == (2, 1)
        # A token Keystone does not know is asked about every time: nothing is cached for it.
        for _attempt in range(2):
            refused = call(api, "GET", "/v1/maintenance", token="forged")
            assert refused.status_code == 401 and "Keystone does not accept the token" in refused.text
        assert keystone.validations == 4


def test_the_warm_up_does_a_workers_first_request_work_before_it_comes(tmp_path, monkeypatch, caplog):
    # The service connection's token is one Keystone knows (admin-token): auth_token logs in as the service
    # user and validates it during the warm-up, so a client's first request with it asks Keystone nothing.
    with KeystoneServer(TOKENS) as keystone:
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", keystone.clouds_yaml(tmp_path))
        connection = SimpleNamespace(authorize=lambda: "admin-token")
        app, service = build(ServiceConfig(journal=str(tmp_path / "j.sqlite"), auth="keystone", cloud="test",
                                           launch=RECORDS_ONLY), connect=lambda: connection)
        assert (keystone.validations, keystone.service_logins) == (0, 0)
        warm_up(app, service)
        assert service.conn is connection
        assert (keystone.validations, keystone.service_logins) == (1, 1)
        assert call(testing.TestClient(app), "GET", "/v1/maintenance").status_code == 200
        assert (keystone.validations, keystone.service_logins) == (1, 1)

        # A warm-up that fails says so and leaves the work to the first request.
        def unreachable():
            raise exceptions.SDKException("Nova is down")
        app, service = build(ServiceConfig(journal=str(tmp_path / "j.sqlite"), auth="keystone", cloud="test",
                                           launch=RECORDS_ONLY), connect=unreachable)
        warm_up(app, service)
        assert "warm-up: Nova is down (the first request does this work instead)" in caplog.text
        assert call(testing.TestClient(app), "GET", "/v1/maintenance", token="b-token").status_code == 403


def test_project_reads_and_answers_only_for_itself(api, cloud):
    sid, vm1, vm2 = asked_session(api, cloud)
    mine = call(api, "GET", "/v1/maintenance/%s/pa" % sid, token="a-token")
    assert mine.status_code == 200 and mine.json["instance_ids"] == [vm1, vm2]
    assert mine.json["allowed_actions"] == ["MIGRATE", "LIVE_MIGRATE"]
    other = call(api, "GET", "/v1/maintenance/%s/pa" % sid, token="b-token")
    assert other.status_code == 403 and "scoped to project pb" in other.json["error"]["message"]
    forged = call(api, "PUT", "/v1/maintenance/%s/pa" % sid, token="b-token",
                  body={"state": "ACK_PLANNED_MAINTENANCE"})
    assert forged.status_code == 403
    assert api.journal.project(sid, "pa").reply is None
    # The session itself is for admins.
    assert call(api, "GET", "/v1/maintenance/%s" % sid, token="a-token").status_code == 403


def test_reply_with_extra_fields_is_stored(api, cloud):
    sid, vm1, vm2 = asked_session(api, cloud)
    answer = call(api, "PUT", "/v1/maintenance/%s/pa/" % sid, token="a-token", body={
        "state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {vm1: "MIGRATE", vm2: "LIVE_MIGRATE"},
        "session_id": sid, "instance_ids": [vm1, vm2]})
    assert answer.status_code == 200, answer.text
    stored = api.journal.project(sid, "pa")
    assert stored.reply == "ACK_PLANNED_MAINTENANCE"
    assert stored.instance_actions == {vm1: "MIGRATE", vm2: "LIVE_MIGRATE"}


@pytest.mark.parametrize("body, code, message", [
    ({"state": "ACK_MAINTENANCE"}, 409, "send ACK_PLANNED_MAINTENANCE or NACK_PLANNED_MAINTENANCE"),
    ({"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {"VM1": "OWN_ACTION"}}, 409,
     "'OWN_ACTION' is not allowed in state PLANNED_MAINTENANCE; allowed: MIGRATE, LIVE_MIGRATE"),
    ({"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {"vm-x": "MIGRATE"}}, 409,
     "instance_actions: vm-x not instances of project pa"),
    ({"state": "YES"}, 400, "state: 'YES' does not match"),
    ({"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {"VM1": "REBOOT"}}, 400,
     "is not one of ['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION', 'EVICTION']"),
    ({"instance_actions": {}}, 400, "'state' is a required property"),
    ([], 400, "is not of type 'object'"),
])
def test_bad_replies_are_refused_with_what_was_expected(api, cloud, body, code, message):
    sid, vm1, _vm2 = asked_session(api, cloud)
    if isinstance(body, dict) and "VM1" in (body.get("instance_actions") or {}):
        body = dict(body, instance_actions={vm1: body["instance_actions"]["VM1"]})
    answer = call(api, "PUT", "/v1/maintenance/%s/pa" % sid, token="a-token", body=body)
    assert answer.status_code == code, answer.text
    assert message in answer.json["error"]["message"]
    assert api.journal.project(sid, "pa").reply is None


def test_unparsable_and_empty_bodies(api, cloud):
    sid, _vm1, _vm2 = asked_session(api, cloud)
    path = "/v1/maintenance/%s/pa" % sid
    assert "body: not JSON" in call(api, "PUT", path, token="a-token", raw=b"{no").json["error"]["message"]
    assert "body: missing" in call(api, "PUT", path, token="a-token", raw=b"").json["error"]["message"]


def test_unknown_session_and_project_are_404(api, cloud):
    sid, _vm1, _vm2 = asked_session(api, cloud)
    assert call(api, "GET", "/v1/maintenance/nope").status_code == 404
    assert call(api, "GET", "/v1/maintenance/nope/pa", token="a-token").status_code == 404
    unknown = call(api, "GET", "/v1/maintenance/%s/pb" % sid, token="b-token")
    assert unknown.status_code == 404 and "pb is not part of session" in unknown.json["error"]["message"]
    assert call(api, "GET", "/v1/nothing/here").status_code == 404


def test_instance_replies(api, cloud):
    sid, vm1, vm2 = asked_session(api, cloud)
    base = "/v1/maintenance/%s/pa/" % sid
    first = call(api, "PUT", base + vm1, token="a-token",
                 body={"state": "ACK_PLANNED_MAINTENANCE", "instance_action": "MIGRATE"})
    assert first.status_code == 200 and first.json["project_state"] is None
    second = call(api, "PUT", base + vm2, token="a-token",
                  body={"state": "ACK_PLANNED_MAINTENANCE", "instance_action": "LIVE_MIGRATE"})
    assert second.json["project_state"] == "ACK_PLANNED_MAINTENANCE"
    assert api.journal.project(sid, "pa").instance_actions == {vm1: "MIGRATE", vm2: "LIVE_MIGRATE"}
    assert call(api, "PUT", base + "vm-x", token="a-token",
                body={"state": "ACK_PLANNED_MAINTENANCE"}).status_code == 409


def test_session_lifecycle(api, cloud):
    created = call(api, "POST", "/v1/maintenance", body={
        "hosts": [], "state": "MAINTENANCE", "maintenance_at": "2026-12-01 02:00:00", "workflow": "default",
        "metadata": {"release": "2026.2"}, "actions": [{"plugin": "dummy", "type": "host"}]})
    sid = created.json["session_id"]
    assert sorted(h.host for h in api.journal.hosts(sid)) == ["compute1", "compute2", "compute3"]
    assert call(api, "GET", "/v1/maintenance").json == {"session_id": [sid]}
    assert call(api, "GET", "/v1/maintenance/%s" % sid).json["state"] == "MAINTENANCE"
    not_failed = call(api, "PUT", "/v1/maintenance/%s" % sid, body={})
    assert not_failed.status_code == 409 and "not failed" in not_failed.json["error"]["message"]
    api.journal.set_session_state(sid, "PLANNED_MAINTENANCE")
    api.journal.set_session_state(sid, "MAINTENANCE_FAILED", "compute2 did not empty")
    resumed = call(api, "PUT", "/v1/maintenance/%s" % sid, body={})
    assert resumed.json["state"] == "PLANNED_MAINTENANCE"
    detail = call(api, "GET", "/v1/maintenance/%s/detail" % sid).json
    assert [h["host"] for h in detail["hosts"]] == ["compute1", "compute2", "compute3"]
    assert "session.state" in [event["kind"] for event in detail["events"]]
    bad_host = call(api, "POST", "/v1/maintenance", body={"hosts": ["compute9"]})
    assert bad_host.status_code == 400 and "hosts: no nova-compute service on compute9" in bad_host.text
    bad_time = call(api, "POST", "/v1/maintenance", body={"maintenance_at": "tomorrow"})
    assert bad_time.status_code == 400 and "maintenance_at" in bad_time.text
    again = call(api, "POST", "/v1/maintenance", body={"session_id": sid})
    assert again.status_code == 409 and "exists already" in again.text


def test_delete_enables_what_the_session_disabled(api, cloud):
    sid = call(api, "POST", "/v1/maintenance", body={"hosts": ["compute1"]}).json["session_id"]
    cloud.services["compute1"].status = "disabled"
    cloud.services["compute1"].disabled_reason = "fenix.maintenance: session %s" % sid
    api.journal.set_host(sid, "compute1", disabled_by_session=True)
    deleted = call(api, "DELETE", "/v1/maintenance/%s" % sid)
    assert deleted.json["enabled_hosts"] == ["compute1"]
    assert cloud.services["compute1"].status == "enabled"
    assert call(api, "GET", "/v1/maintenance/%s" % sid).status_code == 404


def test_put_and_delete_leave_a_session_alone_while_a_live_run_holds_it(api, cloud):
    # A run by hand (or from elsewhere) holds the session's lease; the service runs nothing itself here.
    sid = call(api, "POST", "/v1/maintenance", body={"hosts": ["compute1"]}).json["session_id"]
    api.journal.set_session_state(sid, "MAINTENANCE_FAILED", "compute1 did not empty")
    cloud.services["compute1"].status = "disabled"
    cloud.services["compute1"].disabled_reason = "fenix.maintenance: session %s" % sid
    api.journal.set_host(sid, "compute1", disabled_by_session=True)
    playbook = subprocess.Popen(["sleep", "60"])  # the run's ansible-playbook process, on this machine
    try:
        run = RunProcess(socket.gethostname(), playbook.pid, process_stat(playbook.pid).started, process_space())
        holder = "%s (user alice, started from bash)" % run.key
        api.journal.acquire_lease(sid, holder, 60)
        for method in ("PUT", "DELETE"):
            refused = call(api, method, "/v1/maintenance/%s" % sid, body={} if method == "PUT" else None)
            assert refused.status_code == 409, refused.text
            assert refused.json["error"]["message"].startswith("session %s is being run by %s since " % (sid, holder))
        assert api.journal.session(sid).state == "MAINTENANCE_FAILED"  # nothing changed
        assert cloud.services["compute1"].status == "disabled"
    finally:
        playbook.kill()
        playbook.wait()
    # Its process ended on this machine: the lease holds nothing back any more, expired or not.
    assert call(api, "PUT", "/v1/maintenance/%s" % sid, body={}).json["state"] == "MAINTENANCE"
    assert call(api, "DELETE", "/v1/maintenance/%s" % sid).json["enabled_hosts"] == ["compute1"]


def test_constraints_belong_to_their_project(api, cloud):
    server_id = cloud.add_server("compute1", project_id="pa")
    group = call(api, "PUT", "/v1/instance_group/g1", token="a-token", body={
        "group_id": "g1", "group_name": "db", "anti_affinity_group": True, "max_impacted_members": 1,
        "recovery_time": 10, "resource_mitigation": False, "max_instances_per_host": 1, "extra": "ignored"})
    assert group.status_code == 200 and group.json["project_id"] == "pa" and "extra" not in group.json
    assert call(api, "GET", "/v1/instance_group/g1", token="b-token").status_code == 403
    assert call(api, "PUT", "/v1/instance_group/g1", token="b-token", body={}).status_code == 403
    assert call(api, "PUT", "/v1/instance_group/g2", token="b-token",
                body={"project_id": "pa"}).status_code == 403
    mismatch = call(api, "PUT", "/v1/instance_group/g1", token="a-token", body={"group_id": "g9"})
    assert mismatch.status_code == 400 and "differs from the group_id in the URL" in mismatch.text
    instance = call(api, "PUT", "/v1/instance/%s" % server_id, token="a-token",
                    body={"group_id": "g1", "migration_type": "LIVE_MIGRATE", "max_interruption_time": 5})
    assert instance.status_code == 200 and api.journal.constraint("instance", server_id)["group_id"] == "g1"
    stolen = call(api, "PUT", "/v1/instance/%s" % server_id, token="b-token", body={"project_id": "pb"})
    assert stolen.status_code == 403
    ghost = call(api, "PUT", "/v1/instance/%s" % ("9" * 8 + server_id[8:]), token="a-token", body={})
    assert ghost.status_code == 400 and "no server 99999999-" in ghost.text
    not_an_id = call(api, "PUT", "/v1/instance/vm-1", token="a-token", body={})
    assert not_an_id.status_code == 400 and "'vm-1' is not a Nova server id" in not_an_id.text
    assert call(api, "DELETE", "/v1/instance_group/g1", token="b-token").status_code == 403
    assert call(api, "DELETE", "/v1/instance_group/g1", token="a-token").status_code == 200
    assert call(api, "GET", "/v1/instance_group/g1", token="a-token").status_code == 404


GROUP_A = "6f1c2e4a-0b7d-4c55-9a3e-1d2b3c4d5e6f"  # tenant pa's anti-affinity group in Nova
RULE = ("group_id: %s is a Nova server group of another project; only the project that owns a server group"
        " may write its constraints" % GROUP_A)


def nova_server_groups(cloud, owners):
    """Nova's GET /os-server-groups/{id} on the fake cloud: the groups in owners (id -> project), 404 otherwise."""
    def get_server_group(group_id):
        cloud.calls["compute.get_server_group"] += 1
        if group_id not in owners:
            raise exceptions.NotFoundException("Server group %s not found." % group_id)
        return SimpleNamespace(id=group_id, name="aa-group", policy="anti-affinity", project_id=owners[group_id])
    cloud.compute.get_server_group = get_server_group


def test_a_nova_server_group_is_written_only_by_the_project_that_owns_it(api, cloud):
    nova_server_groups(cloud, {GROUP_A: "pa"})
    path = "/v1/instance_group/" + GROUP_A
    squat = call(api, "PUT", path, token="b-token", body={"recovery_time": 99999})
    assert squat.status_code == 403 and squat.json["error"]["message"] == RULE
    assert call(api, "DELETE", path, token="b-token").status_code == 404  # nothing stored yet
    mine = call(api, "PUT", path, token="a-token", body={"group_name": "aa-group", "recovery_time": 30})
    assert mine.status_code == 200 and mine.json["project_id"] == "pa"
    assert cloud.calls["compute.get_server_group"] == 2  # one Nova call per project write
    again = call(api, "PUT", path, token="b-token", body={"project_id": "pb", "recovery_time": 99999})
    assert again.status_code == 403 and again.json["error"]["message"] == RULE
    removed = call(api, "DELETE", path, token="b-token")
    assert removed.status_code == 403 and removed.json["error"]["message"] == RULE
    assert api.journal.constraint("instance_group", GROUP_A)["recovery_time"] == 30
    # Admins aside: no Nova call, the project they name.
    calls = cloud.calls["compute.get_server_group"]
    assert call(api, "PUT", path, body={"project_id": "pa", "recovery_time": 60}).status_code == 200
    assert cloud.calls["compute.get_server_group"] == calls
    assert call(api, "DELETE", path, token="a-token").status_code == 200
    assert call(api, "GET", path, token="a-token").status_code == 404


def test_a_record_another_project_wrote_for_a_nova_group_does_not_lock_its_owner_out(api, cloud):
    nova_server_groups(cloud, {GROUP_A: "pa"})
    path = "/v1/instance_group/" + GROUP_A
    # As an older service let tenant pb write it.
    api.journal.set_constraint("instance_group", GROUP_A, "pb",
                               {"group_id": GROUP_A, "project_id": "pb", "recovery_time": 99999})
    taken_back = call(api, "PUT", path, token="a-token", body={"recovery_time": 30})
    assert taken_back.status_code == 200, taken_back.text
    assert api.journal.constraint("instance_group", GROUP_A) == {"group_id": GROUP_A, "project_id": "pa",
                                                                 "recovery_time": 30}
    assert api.journal.constraints("instance_group", "pb") == []
    assert call(api, "PUT", path, token="b-token", body={"recovery_time": 1}).status_code == 403
    api.journal.set_constraint("instance_group", GROUP_A, "pb", {"group_id": GROUP_A, "project_id": "pb"})
    assert call(api, "DELETE", path, token="a-token").status_code == 200
    assert call(api, "GET", path, token="a-token").status_code == 404


def test_other_group_ids_belong_to_their_first_writer(api, cloud):
    nova_server_groups(cloud, {GROUP_A: "pa"})
    for group_id in ("0a7d5c0e-5d39-4f4e-8d38-c0ffee000001", "app-tier"):  # not in Nova; not a Nova id
        path = "/v1/instance_group/" + group_id
        assert call(api, "PUT", path, token="b-token", body={"recovery_time": 5}).status_code == 200
        taken = call(api, "PUT", path, token="a-token", body={"recovery_time": 6})
        assert taken.status_code == 403 and taken.json["error"]["message"] == (
            "instance group %s belongs to another project" % group_id)
        assert call(api, "DELETE", path, token="a-token").status_code == 403
        assert api.journal.constraint("instance_group", group_id)["recovery_time"] == 5
        assert call(api, "DELETE", path, token="b-token").status_code == 200
    # Nova is asked about the UUID only (two writes and two deletes): an id that is no UUID is no Nova group.
    assert cloud.calls["compute.get_server_group"] == 4


def test_nova_errors_about_a_group_are_502(api, cloud):
    def failing(group_id):
        raise exceptions.HttpException("Service Unavailable", http_status=503)
    cloud.compute.get_server_group = failing
    path = "/v1/instance_group/" + GROUP_A
    answer = call(api, "PUT", path, token="a-token", body={})
    assert answer.status_code == 502 and "Nova could not be asked about server group %s" % GROUP_A in answer.text
    cloud.compute.get_server_group = lambda group_id: SimpleNamespace(id=group_id, project_id=None)
    answer = call(api, "PUT", path, token="a-token", body={})
    assert answer.status_code == 502 and "Nova did not say which project owns server group" in answer.text
    with pytest.raises(ConstraintNotFound):
        api.journal.constraint("instance_group", GROUP_A)


def test_lab_mode_says_so(tmp_path, caplog):
    app, _service = build(ServiceConfig(journal=str(tmp_path / "j.sqlite"), auth="none", launch=RECORDS_ONLY))
    response = testing.TestClient(app).simulate_get("/v1/maintenance")
    assert response.status_code == 200 and response.headers["X-Fenix-Auth"] == "none (lab mode)"
    assert "NO AUTHENTICATION" in caplog.text


def test_configuration_errors_name_the_variable():
    with pytest.raises(ValueError, match="FENIX_API_CLOUD: missing"):
        ServiceConfig.from_environment({"FENIX_API_AUTH": "keystone"})
    with pytest.raises(ValueError, match="FENIX_API_AUTH: 'ldap' is not one of keystone, none"):
        ServiceConfig.from_environment({"FENIX_API_AUTH": "ldap"})


def test_the_service_connection_starts_with_the_runs_kept_token(tmp_path, monkeypatch):
    # The run's modules keep their token in token_cache; the service started for the run holds the same one, which
    # the cloud's services validated already, instead of authenticating anew (nothing is sent to the cloud here).
    tokens = str(tmp_path / "tokens")
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  fenix-api:\n    auth:\n      auth_url: http://keystone.test/v3\n      username: admin\n"
        "      password: secret\n      project_name: admin\n      user_domain_id: default\n"
        "      project_domain_id: default\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    save_token(tokens, authenticated(_connect_cloud("fenix-api").session.auth, "token-of-the-run"), loaded=None)
    config = ServiceConfig.from_environment({"FENIX_API_CLOUD": "fenix-api", "FENIX_API_TOKEN_CACHE": tokens})
    assert config.token_cache == tokens
    assert _connect_cloud(config.cloud, config.token_cache).session.auth.auth_ref.auth_token == "token-of-the-run"
    assert _connect_cloud(config.cloud).session.auth.auth_ref is None, "without the cache: a token of its own"
    assert ServiceConfig.from_environment({"FENIX_API_CLOUD": "fenix-api"}).token_cache is None


def test_openapi_document_covers_every_route():
    document = openapi_document()
    operations = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert operations == {route[:2] for route in ROUTES}
    reply = document["paths"]["/v1/maintenance/{session_id}/{project_id}"]["put"]
    assert reply["requestBody"]["content"]["application/json"]["schema"]["required"] == ["state"]
    assert set(reply["responses"]) == {"200", "400", "401", "403", "404", "409", "413"}
    assert "413" not in document["paths"]["/v1/maintenance/{session_id}"]["get"]["responses"]  # no body to limit


def test_shipped_openapi_document_is_current():
    """docs/openapi.json is generated; regenerate it with the command in docs/api.md when this fails."""
    import json
    import os
    shipped = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "openapi.json")
    with open(shipped) as handle:
        assert json.load(handle) == openapi_document("http://127.0.0.1:12347")


def test_session_detail_links_the_run_report_served_from_the_journal(api, cloud):
    sid, vm1, _vm2 = asked_session(api, cloud)
    api.journal.set_host(sid, "compute1", state="DISABLED", disabled_by_session=True)
    api.journal.finish_move(api.journal.start_move(sid, vm1, "pa", "LIVE_MIGRATE", "compute1"), True, "compute2")
    urls = call(api, "GET", "/v1/maintenance/%s/detail" % sid).json["report"]
    # Absolute URLs under the API's own address (the test client's is falcon's).
    assert urls == {name: "http://falconframework.org/v1/maintenance/%s/report.%s" % (sid, ext)
                    for name, ext in (("json", "json"), ("html", "html"), ("svg", "svg"), ("markdown", "md"))}
    links = {name: urlsplit(url).path for name, url in urls.items()}
    report = call(api, "GET", links["json"]).json
    assert [host["host"] for host in report["hosts"]] == ["compute1"] and len(report["moves"]) == 1
    for name, media_type in (("html", "text/html"), ("svg", "image/svg+xml"), ("markdown", "text/markdown")):
        answer = call(api, "GET", links[name])
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(media_type)
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert "compute1" in answer.text
    assert 'data-host="compute1"' in call(api, "GET", links["svg"]).text
    assert "](report.svg)" in call(api, "GET", links["markdown"]).text


def test_run_report_needs_an_admin_and_a_known_session(api, cloud):
    sid, _vm1, _vm2 = asked_session(api, cloud)
    assert call(api, "GET", "/v1/maintenance/%s/report.html" % sid, token=None).status_code == 401
    assert call(api, "GET", "/v1/maintenance/%s/report.html" % sid, token="a-token").status_code == 403
    missing = call(api, "GET", "/v1/maintenance/nope/report.svg")
    assert missing.status_code == 404 and "nope" in missing.json["error"]["message"]
    # A project named like a report document is still a project (its GET answers project tokens).
    assert call(api, "GET", "/v1/maintenance/%s/pa" % sid, token="a-token").status_code == 200
