"""The maintenance API served by gunicorn, with real Keystone tokens, against the test cloud's journal use."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid

import openstack
import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.records import ConstraintNotFound
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

from conftest import ADMIN_CLOUD, ApiService, ROOT


def request(method, url, token=None, body=None, raw=None):
    """(status, JSON body) of one HTTP request."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture(scope="module")
def seed(test_cloud):
    with open(os.path.join(test_cloud, "seed.json")) as handle:
        return json.load(handle)


@pytest.fixture
def asked(api_service, tokens, seed):
    """A session where tenant-a was asked about PLANNED_MAINTENANCE for its servers on compute1."""
    admin = tokens["fenix-admin"].token
    status, created = request("POST", api_service.url + "/maintenance", admin,
                              {"hosts": ["compute1"], "state": "MAINTENANCE", "metadata": {"release": "next"}})
    assert status == 200, created
    sid = created["session_id"]
    project_a = tokens["fenix-tenant-a"].project_id
    mine = [s["id"] for s in seed["servers"] if s["host"] == "compute1" and s["project_id"] == project_a]
    assert mine, "the seed puts tenant-a servers on compute1"
    journal = Journal(api_service.journal)
    for server_id in mine:
        journal.set_instance(sid, server_id, project_a, host="compute1")
    journal.notify_project(sid, project_a, "PLANNED_MAINTENANCE", instance_ids=mine,
                           allowed_actions=["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"])
    yield sid, project_a, mine, journal
    # A session not ended holds its hosts (the next POST of compute1 would be refused): end it as an admin does.
    assert request("DELETE", api_service.url + "/maintenance/" + sid, admin)[0] == 200


def test_tokens_are_validated_by_keystone(api_service, tokens):
    url = api_service.url + "/maintenance"
    assert request("GET", url)[0] == 401
    status, body = request("GET", url, "gAAAAAnot-a-real-token")
    assert status == 401 and "Keystone does not accept the token" in body["error"]["message"]
    status, body = request("GET", url, tokens["fenix-tenant-a"].token)
    assert status == 403 and "admin role" in body["error"]["message"]
    assert request("GET", url, tokens["fenix-admin"].token)[0] == 200


def test_project_cannot_read_or_answer_for_another(api_service, tokens, asked):
    sid, project_a, mine, journal = asked
    url = "%s/maintenance/%s/%s" % (api_service.url, sid, project_a)
    status, body = request("GET", url, tokens["fenix-tenant-a"].token)
    assert status == 200 and body["instance_ids"] == mine and body["state"] == "PLANNED_MAINTENANCE"
    b_token = tokens["fenix-tenant-b"].token
    assert request("GET", url, b_token)[0] == 403
    status, body = request("PUT", url, b_token, {"state": "ACK_PLANNED_MAINTENANCE"})
    assert status == 403 and "scoped to project %s" % tokens["fenix-tenant-b"].project_id in body["error"]["message"]
    assert journal.project(sid, project_a).reply is None
    # An admin may read any project's list.
    assert request("GET", url, tokens["fenix-admin"].token)[0] == 200


def test_reply_round_trip(api_service, tokens, asked):
    sid, project_a, mine, journal = asked
    url = "%s/maintenance/%s/%s/" % (api_service.url, sid, project_a)
    actions = {server_id: "LIVE_MIGRATE" for server_id in mine}
    status, body = request("PUT", url, tokens["fenix-tenant-a"].token, {
        "state": "ACK_PLANNED_MAINTENANCE", "instance_actions": actions,
        "session_id": sid, "instance_ids": url})  # extra fields real VNFMs send
    assert status == 200, body
    assert (journal.project(sid, project_a).reply, journal.project(sid, project_a).instance_actions) == (
        "ACK_PLANNED_MAINTENANCE", actions)
    detail = request("GET", "%s/maintenance/%s/detail" % (api_service.url, sid), tokens["fenix-admin"].token)[1]
    assert detail["projects"][0]["reply"] == "ACK_PLANNED_MAINTENANCE"
    assert "project.reply" in [event["kind"] for event in detail["events"]]


@pytest.mark.parametrize("body, code, message", [
    ({"state": "ACK_SCALE_IN"}, 409, "send ACK_PLANNED_MAINTENANCE or NACK_PLANNED_MAINTENANCE"),
    ({"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {"not-a-server": "MIGRATE"}}, 409,
     "not instances of project"),
    ({"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {"x": "EVACUATE"}}, 400,
     "instance_actions.x: 'EVACUATE' is not one of"),
    ({"instance_actions": {}}, 400, "'state' is a required property"),
    ("not an object", 400, "is not of type 'object'"),
])
def test_bad_bodies_get_4xx_with_what_was_expected(api_service, tokens, asked, body, code, message):
    sid, project_a, _mine, journal = asked
    status, answer = request("PUT", "%s/maintenance/%s/%s" % (api_service.url, sid, project_a),
                             tokens["fenix-tenant-a"].token, body)
    assert status == code and message in answer["error"]["message"], answer
    assert journal.project(sid, project_a).reply is None


def test_unknown_session_is_404(api_service, tokens):
    status, body = request("GET", api_service.url + "/maintenance/no-such-session", tokens["fenix-admin"].token)
    assert status == 404 and "no-such-session is not in the journal" in body["error"]["message"]


def test_instance_constraint_needs_the_owner(api_service, tokens, seed):
    project_a = tokens["fenix-tenant-a"].project_id
    server = next(s for s in seed["servers"] if s["project_id"] == project_a)
    url = "%s/instance/%s" % (api_service.url, server["id"])
    status, body = request("PUT", url, tokens["fenix-tenant-b"].token, {"migration_type": "MIGRATE"})
    assert status == 403 and "does not belong to project" in body["error"]["message"]
    status, body = request("PUT", url, tokens["fenix-tenant-a"].token,
                           {"migration_type": "LIVE_MIGRATE", "max_interruption_time": 2, "lead_time": 30})
    assert status == 200 and body["project_id"] == project_a
    assert request("GET", url, tokens["fenix-tenant-b"].token)[0] == 403
    assert request("GET", url, tokens["fenix-tenant-a"].token)[1]["migration_type"] == "LIVE_MIGRATE"
    assert request("DELETE", url, tokens["fenix-tenant-a"].token)[0] == 200


@pytest.fixture
def aa_group(api_service, seed):
    """tenant-a's anti-affinity server group (seeded): its id and URL; no record of it is left behind."""
    group_id = seed["server_groups"]["aa-group"]["id"]
    assert seed["server_groups"]["aa-group"]["project"] == "tenant-a"
    yield group_id, "%s/instance_group/%s" % (api_service.url, group_id)
    try:
        Journal(api_service.journal).delete_constraint("instance_group", group_id)
    except ConstraintNotFound:
        pass


def test_a_nova_server_group_is_written_only_by_the_project_that_owns_it(tokens, aa_group):
    group_id, url = aa_group
    tenant_a, tenant_b = tokens["fenix-tenant-a"], tokens["fenix-tenant-b"]
    status, body = request("PUT", url, tenant_b.token, {"recovery_time": 99999})
    assert status == 403 and body["error"]["message"] == (
        "group_id: %s is a Nova server group of another project; only the project that owns a server group"
        " may write its constraints" % group_id)
    owner_body = {"group_name": "aa-group", "anti_affinity_group": True, "max_impacted_members": 1, "recovery_time": 30}
    status, body = request("PUT", url, tenant_a.token, owner_body)
    assert status == 200 and body["project_id"] == tenant_a.project_id, body
    assert request("PUT", url, tenant_b.token, {"project_id": tenant_b.project_id})[0] == 403
    assert request("DELETE", url, tenant_b.token)[0] == 403
    assert request("GET", url, tenant_b.token)[0] == 403
    assert request("GET", url, tenant_a.token)[1]["recovery_time"] == 30
    # An admin may write any group.
    status, body = request("PUT", url, tokens["fenix-admin"].token,
                           {"project_id": tenant_a.project_id, "recovery_time": 60})
    assert status == 200 and body["recovery_time"] == 60
    assert request("DELETE", url, tenant_a.token)[0] == 200
    assert request("GET", url, tenant_a.token)[0] == 404


def test_a_record_another_project_wrote_does_not_lock_the_owner_out(api_service, tokens, aa_group):
    group_id, url = aa_group
    tenant_a, tenant_b = tokens["fenix-tenant-a"], tokens["fenix-tenant-b"]
    journal = Journal(api_service.journal)
    # What an older service let tenant-b write for tenant-a's group.
    journal.set_constraint("instance_group", group_id, tenant_b.project_id,
                           {"group_id": group_id, "project_id": tenant_b.project_id, "recovery_time": 99999})
    status, body = request("PUT", url, tenant_a.token, {"recovery_time": 30})
    assert status == 200 and body["project_id"] == tenant_a.project_id, body
    assert journal.constraint("instance_group", group_id)["recovery_time"] == 30
    journal.set_constraint("instance_group", group_id, tenant_b.project_id,
                           {"group_id": group_id, "project_id": tenant_b.project_id})
    assert request("DELETE", url, tenant_a.token)[0] == 200
    assert journal.constraints("instance_group", tenant_b.project_id) == []


def test_a_group_id_nova_does_not_know_belongs_to_its_first_writer(api_service, tokens):
    group_id = str(uuid.uuid4())
    url = "%s/instance_group/%s" % (api_service.url, group_id)
    tenant_a, tenant_b = tokens["fenix-tenant-a"], tokens["fenix-tenant-b"]
    status, body = request("PUT", url, tenant_b.token, {"recovery_time": 5})
    assert status == 200 and body["project_id"] == tenant_b.project_id, body
    status, body = request("PUT", url, tenant_a.token, {"recovery_time": 6})
    assert status == 403 and body["error"]["message"] == "instance group %s belongs to another project" % group_id
    assert request("DELETE", url, tenant_a.token)[0] == 403
    assert request("DELETE", url, tenant_b.token)[0] == 200


def test_killed_service_loses_no_accepted_reply(test_cloud, tokens, seed, tmp_path):
    service = ApiService(str(tmp_path / "run"), str(tmp_path / "journal.sqlite"), port=12348).start()
    try:
        admin = tokens["fenix-admin"].token
        sid = request("POST", service.url + "/maintenance", admin, {"hosts": ["compute2"]})[1]["session_id"]
        journal = Journal(service.journal)
        projects = {t.project_id for name, t in tokens.items() if name != "fenix-admin"}
        for project_id in projects:
            journal.notify_project(sid, project_id, "MAINTENANCE")
        answered = []
        for name in ("fenix-tenant-a", "fenix-tenant-b"):
            status, _body = request("PUT", "%s/maintenance/%s/%s" % (service.url, sid, tokens[name].project_id),
                                    tokens[name].token, {"state": "ACK_MAINTENANCE"})
            assert status == 200
            answered.append(tokens[name].project_id)
        service.kill()
        with pytest.raises(OSError):
            urllib.request.urlopen(service.url.rsplit("/v1", 1)[0] + "/", timeout=2)
        service.start()
        for project_id in answered:
            status, body = request("GET", "%s/maintenance/%s/%s" % (service.url, sid, project_id), admin)
            assert (status, body["reply"]) == (200, "ACK_MAINTENANCE")
        silent = (projects - set(answered)).pop()
        assert request("GET", "%s/maintenance/%s/%s" % (service.url, sid, silent), admin)[1]["reply"] is None
    finally:
        service.stop()


def test_module_starts_once_and_stops(playbook, tmp_path):
    run_dir = str(tmp_path / "run")
    task = {"fenix.maintenance.maintenance_api": {
        "collections_path": os.path.join(ROOT, ".work", "collections"), "run_dir": run_dir,
        "bind": "127.0.0.1:12349", "journal": str(tmp_path / "journal.sqlite")}}
    stopped = {"fenix.maintenance.maintenance_api": {"state": "stopped", "run_dir": run_dir}}
    check, = playbook.run(task, check=True)
    started, again = playbook.run(task, task)
    assert check["changed"] and check["pid"] is None
    assert started["changed"] and started["url"] == "http://127.0.0.1:12349/v1"
    assert not again["changed"] and again["pid"] == started["pid"]
    assert request("GET", started["url"] + "/maintenance", "bogus")[0] == 401
    stop, stop_again = playbook.run(stopped, stopped)
    assert stop["changed"] and not stop_again["changed"]
    with pytest.raises(OSError):
        urllib.request.urlopen("http://127.0.0.1:12349/", timeout=2)


def test_module_refuses_bad_settings(playbook, tmp_path):
    failed, = playbook.run({"fenix.maintenance.maintenance_api": {
        "collections_path": str(tmp_path), "run_dir": str(tmp_path / "run")}})
    assert failed["failed"] and "collections_path: %s has no ansible_collections/fenix/maintenance" % tmp_path \
        in failed["msg"]
    failed, = playbook.run({"fenix.maintenance.maintenance_api": {
        "collections_path": os.path.join(ROOT, ".work", "collections"), "bind": "localhost",
        "run_dir": str(tmp_path / "run")}})
    assert failed["failed"] and "bind: 'localhost' is not HOST:PORT" in failed["msg"]


def test_module_registers_the_catalog_endpoint(playbook, tmp_path, admin):
    task = {"fenix.maintenance.maintenance_api": {
        "collections_path": os.path.join(ROOT, ".work", "collections"), "run_dir": str(tmp_path / "run"),
        "bind": "127.0.0.1:12355", "journal": str(tmp_path / "journal.sqlite"),
        "catalog_url": "http://127.0.0.1:12355/v1"}}
    stopped = {"fenix.maintenance.maintenance_api": {"state": "stopped", "run_dir": str(tmp_path / "run")}}
    try:
        check, = playbook.run(task, check=True)
        first, second = playbook.run(task, task)
        assert check["catalog_changes"] and check["changed"]
        assert first["catalog_changes"] and not second["catalog_changes"] and not second["changed"]
        # A project's own connection finds the API by service type, as Fenix VNFMs do.
        tenant = openstack.connect(cloud="fenix-tenant-a")
        assert tenant.endpoint_for("maintenance") == "http://127.0.0.1:12355/v1"
    finally:
        playbook.run(stopped)
        for service in admin.identity.services(type="maintenance"):
            for endpoint in admin.identity.endpoints(service_id=service.id):
                admin.identity.delete_endpoint(endpoint)
            admin.identity.delete_service(service)


def test_start_refuses_a_port_another_service_holds(api_service, tmp_path):
    from ansible_collections.fenix.maintenance.plugins.module_utils.api.process import ApiProcessError
    other = ApiService(str(tmp_path / "run"), str(tmp_path / "journal.sqlite"))  # the port api_service holds
    with pytest.raises(ApiProcessError, match="bind: something already answers on 127.0.0.1:12347"):
        other.start()


def test_an_operators_policy_file_decides_with_real_tokens(playbook, tokens, tmp_path):
    """The module's policy_file, through gunicorn and auth_token with real Keystone tokens: the rule the file
    names changes, the others keep their defaults; a file oslo.policy cannot use stops the start."""
    tenant_a, tenant_b, admin = tokens["fenix-tenant-a"], tokens["fenix-tenant-b"], tokens["fenix-admin"].token
    policy = tmp_path / "policy.yaml"
    policy.write_text('"maintenance:list_sessions": "rule:maintenance:admin or project_id:%s"\n' % tenant_a.project_id)
    run_dir = str(tmp_path / "run")
    task = {"fenix.maintenance.maintenance_api": {
        "collections_path": os.path.join(ROOT, ".work", "collections"), "run_dir": run_dir,
        "bind": "127.0.0.1:12356", "journal": str(tmp_path / "journal.sqlite"), "policy_file": str(policy),
        "launcher": {"type": "none"}}}
    stopped = {"fenix.maintenance.maintenance_api": {"state": "stopped", "run_dir": run_dir}}
    started, = playbook.run(task)
    assert not started.get("failed"), started
    try:
        url = started["url"]
        assert request("GET", url + "/maintenance", tenant_a.token) == (200, {"session_id": []})
        status, body = request("GET", url + "/maintenance", tenant_b.token)
        assert status == 403 and body["error"]["message"] == (
            "this endpoint needs a token with the admin role (policy rule maintenance:list_sessions)")
        status, body = request("GET", url + "/maintenance/no-such-session", tenant_a.token)
        assert status == 403 and body["error"]["message"] == (
            "this endpoint needs a token with the admin role (policy rule maintenance:get_session)")
        assert request("GET", url + "/maintenance", admin) == (200, {"session_id": []})
        # A 401 says where to get a token: the auth_url of the service's cloud.
        auth_url = openstack.config.OpenStackConfig().get_one(cloud=ADMIN_CLOUD).config["auth"]["auth_url"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "/maintenance", timeout=10)
        assert refused.value.code == 401 and refused.value.headers["WWW-Authenticate"] == 'Keystone uri="%s"' % auth_url
    finally:
        playbook.run(stopped)
    policy.write_text('"maintenance:admin": "role:admin or"\n')
    failed, = playbook.run(task)
    assert failed["failed"] and "the check string of maintenance:admin is not one oslo.policy can parse" in failed["msg"]
    with pytest.raises(OSError):
        urllib.request.urlopen("http://127.0.0.1:12356/", timeout=2)
