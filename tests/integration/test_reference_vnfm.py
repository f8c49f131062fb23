"""The reference VNFM (examples/reference_vnfm/vnfm.py) against the real API, Keystone, Nova and RabbitMQ.

Each VNFM runs as a subprocess for tenant-a, exactly as docs/vnf_vendor_guide.md
shows it. The collection's own notification code asks the project (journal
first, then the webhook or the bus), and every check reads the session
journal the API wrote: what the VNFM claims in its log is not taken on trust.
Nothing here disables a host or moves a server.
"""

from __future__ import annotations

import json
import os
import shlex
import time
import uuid
from datetime import datetime

import kombu
import openstack
import pytest

from conftest import ROOT, ApiService
from nova_notifications import cloud_transport_url
from vnfm_process import VnfmProcess

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import (
    SCHEDULED,
    Notification,
    Notifier,
    ProjectAsk,
    allowed_actions_for,
    scheduled_payload,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.vocabulary import INSTANCE_ACTION_DONE

API_PORT = 12351  # an API of this module's own, so that test_api.py may run beside it on 12347
HOST = "compute1"


@pytest.fixture(scope="module")
def api(test_cloud, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("vnfm-api")
    service = ApiService(str(workdir / "run"), str(workdir / "journal.sqlite"), port=API_PORT).start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def seed(test_cloud):
    with open(os.path.join(test_cloud, "seed.json"), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def tenant_a(seed):
    return seed["projects"]["tenant-a"]


def servers_of(seed, project: str, host: str = None) -> list:
    return sorted(s["id"] for s in seed["servers"] if s["project"] == project and (host is None or s["host"] == host))


@pytest.fixture
def start_vnfm(tmp_path, api):
    """Starts VNFMs; at the end each must stop cleanly on SIGTERM."""
    made = []

    def start(port: int, *options: str, **kwargs) -> VnfmProcess:
        made.append(VnfmProcess(tmp_path, port, *options, **kwargs))
        return made[-1]

    yield start
    for process in made:
        code = process.stop()
        assert code == 0, "VNFM exit %s: %s" % (code, process.stderr_tail())
        assert process.events()[-1]["event"] == "stopped"


@pytest.fixture(scope="module")
def cooperative(api, tmp_path_factory):
    """The guide's VNFM: live_migrate, with aa-group's constraints, on port 12360; shared by several tests."""
    process = VnfmProcess(tmp_path_factory.mktemp("vnfm"), 12360, "--policy", "live_migrate",
                          "--api-url", api.url, "--group", "aa-group", "--max-impacted", "1")
    yield process
    assert process.stop() == 0, process.stderr_tail()
    assert process.events()[-1]["event"] == "stopped"


def documented_command(path: str) -> list:
    """The vnfm.py command shown in a document (its shell continuation lines joined)."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        text = handle.read().replace("\\\n", " ")
    lines = [line for line in text.splitlines() if line.startswith("python examples/reference_vnfm/vnfm.py")]
    assert len(lines) == 1, "%s shows the vnfm.py command %d times" % (path, len(lines))
    return shlex.split(lines[0])


@pytest.mark.parametrize("document", ["docs/vnf_vendor_guide.md", "examples/reference_vnfm/README.md"])
def test_the_documented_command_is_the_one_tested(cooperative, document):
    tested = cooperative.command[1:cooperative.command.index("--log")]
    assert documented_command(document)[1:] == [os.path.relpath(tested[0], ROOT)] + tested[1:]


def notifier(api, webhook_urls: dict = None, bus: dict = None) -> Notifier:
    """The collection's own sender, over the API's journal; api_url given, so no catalog lookup."""
    params = {"api_url": api.url, "reply_timeout": 60, "metadata": None}
    if webhook_urls is not None:
        params["webhook"] = {"urls": webhook_urls, "discover_from_aodh": False, "retries": 2,
                             "retry_delay": 0.2, "timeout": 10}
    if bus is not None:
        params["bus"] = dict({"exchange": "openstack", "timeout": 10, "retries": 3}, **bus)
    return Notifier(Journal(api.journal), params, conn_factory=lambda: None)


def ask(api, project_id: str, state: str, instance_ids: list, **transport) -> tuple:
    """A new session on compute1 whose ``project_id`` is asked about ``state``: (session, journal, sent)."""
    journal = Journal(api.journal)
    session = journal.create_session([HOST], metadata={"release": "next"})
    sender = notifier(api, **transport)
    reply_at = sender.reply_at()
    sent = sender.ask_and_send(session, [ProjectAsk(project_id, state, instance_ids, allowed_actions_for(state),
                                                    reply_at, reply_at, {iid: HOST for iid in instance_ids})])
    assert [item["delivered"] for item in sent] == [True], sent
    return session, journal, sent[0]


def wait_reply(journal: Journal, session_id: str, project_id: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        project = journal.project(session_id, project_id)
        if project.reply is not None:
            return project
        time.sleep(0.2)
    raise AssertionError("project %s did not answer in %ss" % (project_id, timeout))


def of_session(session_id: str, event: str):
    return lambda e: e["event"] == event and e.get("session_id") == session_id


# ------------------------------------------------------------------ webhook, with the cooperative VNFM

def test_constraints_are_set_from_the_server_group(cooperative, api, seed, tenant_a):
    group = seed["server_groups"]["aa-group"]
    members = sorted(s["id"] for s in seed["servers"] if s["group"] == "aa-group")
    journal = Journal(api.journal)
    assert journal.constraints("instance_group", tenant_a) == [{
        "group_id": group["id"], "project_id": tenant_a, "group_name": "aa-group", "anti_affinity_group": True,
        "max_instances_per_host": 1, "max_impacted_members": 1, "recovery_time": 4, "resource_mitigation": False}]
    instances = journal.constraints("instance", tenant_a)
    assert sorted(item["instance_id"] for item in instances) == members
    names = {s["id"]: s["name"] for s in seed["servers"]}
    for item in instances:
        assert item["group_id"] == group["id"] and item["migration_type"] == "LIVE_MIGRATE"
        assert item["instance_name"] == names[item["instance_id"]]
    assert cooperative.started["project_id"] == tenant_a


def test_live_migrate_policy_acks_every_instance(cooperative, api, seed, tenant_a):
    mine = servers_of(seed, "tenant-a", HOST)
    assert mine, "the seed puts tenant-a servers on %s" % HOST
    session, journal, sent = ask(api, tenant_a, "PLANNED_MAINTENANCE", mine, webhook_urls={tenant_a: cooperative.url})
    project = wait_reply(journal, session.session_id, tenant_a)
    assert project.reply == "ACK_PLANNED_MAINTENANCE"
    assert project.instance_actions == {iid: "LIVE_MIGRATE" for iid in mine}
    # It read the list from the API with its own token (the webhook carries only the URL).
    received = cooperative.wait_for(of_session(session.session_id, "received"))
    assert received["shape"] == "aodh" and received["message_id"] == sent["message_id"]
    assert received["payload"]["instance_ids"].startswith(api.url + "/maintenance/")
    assert cooperative.wait_for(of_session(session.session_id, "instances"))["instance_ids"] == mine
    assert cooperative.wait_for(of_session(session.session_id, "replied"))["status"] == 200


def test_another_projects_notification_is_ignored(cooperative, api, seed, tenant_a):
    tenant_b = seed["projects"]["tenant-b"]
    theirs = servers_of(seed, "tenant-b", HOST)
    # Misrouted on purpose: tenant-b's ask reaches tenant-a's VNFM.
    session, journal, sent = ask(api, tenant_b, "PLANNED_MAINTENANCE", theirs, webhook_urls={tenant_b: cooperative.url})
    ignored = cooperative.wait_for(of_session(session.session_id, "ignored"))
    assert ignored["message_id"] == sent["message_id"] and "not this VNFM's project" in ignored["reason"]
    time.sleep(1)
    assert journal.project(session.session_id, tenant_b).reply is None
    assert not [e for e in cooperative.events() if e.get("session_id") == session.session_id
                and e["event"] in ("instances", "replied", "reply_failed")]


def test_instance_action_done_and_maintenance_complete_check_the_servers(cooperative, api, seed, tenant_a):
    mine = servers_of(seed, "tenant-a", HOST)
    session, journal, _sent = ask(api, tenant_a, "PLANNED_MAINTENANCE", mine, webhook_urls={tenant_a: cooperative.url})
    wait_reply(journal, session.session_id, tenant_a)
    sender = notifier(api, webhook_urls={tenant_a: cooperative.url})
    done = Notification(SCHEDULED, scheduled_payload(api.url, session.session_id, tenant_a, INSTANCE_ACTION_DONE,
                                                     instance_id=mine[0]))
    assert sender.announce(session.session_id, done, instance_id=mine[0])[0]["delivered"]
    checked = cooperative.wait_for(lambda e: of_session(session.session_id, "checked")(e)
                                   and e["state"] == INSTANCE_ACTION_DONE)
    nova = openstack.connect(cloud="fenix-tenant-a")
    assert checked["statuses"] == {mine[0]: nova.compute.get_server(mine[0]).status}
    assert checked["all_active"] == (checked["statuses"][mine[0]] == "ACTIVE")
    # INSTANCE_ACTION_DONE asks nothing: the earlier answer stands, no new one was sent.
    assert journal.project(session.session_id, tenant_a).reply == "ACK_PLANNED_MAINTENANCE"
    assert len([e for e in cooperative.events() if of_session(session.session_id, "replied")(e)]) == 1

    sent = sender.ask_and_send(session, [ProjectAsk(tenant_a, "MAINTENANCE_COMPLETE", mine, [], None,
                                                    sender.reply_at())])
    assert sent[0]["delivered"]
    assert wait_reply(journal, session.session_id, tenant_a).reply == "ACK_MAINTENANCE_COMPLETE"
    checked = cooperative.wait_for(lambda e: of_session(session.session_id, "checked")(e)
                                   and e["state"] == "MAINTENANCE_COMPLETE")
    statuses = {server.id: server.status for server in nova.compute.servers()}
    assert checked["statuses"] == statuses  # every server of the project, as Nova says now
    assert checked["all_active"] == all(status == "ACTIVE" for status in statuses.values())


# ------------------------------------------------------------------ other policies

def test_nack_policy(start_vnfm, api, seed, tenant_a):
    vnfm = start_vnfm(12361, "--policy", "nack")
    session, journal, _sent = ask(api, tenant_a, "PLANNED_MAINTENANCE", servers_of(seed, "tenant-a", HOST),
                                  webhook_urls={tenant_a: vnfm.url})
    project = wait_reply(journal, session.session_id, tenant_a)
    assert (project.reply, project.instance_actions) == ("NACK_PLANNED_MAINTENANCE", {})


def test_silent_policy_answers_nothing(start_vnfm, api, seed, tenant_a):
    vnfm = start_vnfm(12362, "--policy", "silent")
    session, journal, _sent = ask(api, tenant_a, "MAINTENANCE", servers_of(seed, "tenant-a", HOST),
                                  webhook_urls={tenant_a: vnfm.url})
    decided = vnfm.wait_for(of_session(session.session_id, "decided"))
    assert decided["reply"] is None and decided["policy"] == "silent"
    time.sleep(2)
    assert journal.project(session.session_id, tenant_a).reply is None
    assert not [e for e in journal.events(session.session_id) if e["kind"] == "project.reply"]


def test_late_policy_answers_after_the_delay(start_vnfm, api, seed, tenant_a):
    vnfm = start_vnfm(12363, "--policy", "late=3")
    session, journal, _sent = ask(api, tenant_a, "MAINTENANCE", servers_of(seed, "tenant-a", HOST),
                                  webhook_urls={tenant_a: vnfm.url})
    project = wait_reply(journal, session.session_id, tenant_a)
    assert project.reply == "ACK_MAINTENANCE"
    waited = _stamp(project.replied_at) - _stamp(project.notified_at)
    assert waited >= 3, "answered %.1fs after the notification" % waited


def test_own_action_answered_per_instance(start_vnfm, api, seed, tenant_a):
    vnfm = start_vnfm(12364, "--policy", "own_action", "--per-instance")
    mine = servers_of(seed, "tenant-a", HOST)
    session, journal, _sent = ask(api, tenant_a, "PREPARE_MAINTENANCE", mine, webhook_urls={tenant_a: vnfm.url})
    project = wait_reply(journal, session.session_id, tenant_a)
    assert project.reply == "ACK_PREPARE_MAINTENANCE"
    assert project.instance_actions == {iid: "OWN_ACTION" for iid in mine}
    # Each instance answered on its own URL: the journal has one instance.reply per instance.
    replies = [e for e in journal.events(session.session_id) if e["kind"] == "instance.reply"]
    assert sorted(e["instance_id"] for e in replies) == mine
    order = [e["event"] for e in vnfm.events() if e.get("session_id") == session.session_id]
    assert order.index("own_action") < order.index("replied")


# ------------------------------------------------------------------ the vnf workflow

def test_vnf_session_is_answered_per_instance_with_the_migration_type(start_vnfm, api, seed, tenant_a):
    """Fenix's vnf workflow end to end: one question per instance, answered as Doctor's VNFM answers it."""
    members = sorted(s["id"] for s in seed["servers"] if s["group"] == "aa-group")
    # PREPARE's own policy says MIGRATE; the answer must carry each member's migration_type (LIVE_MIGRATE) instead.
    vnfm = start_vnfm(12366, "--workflow", "vnf", "--policy", "live_migrate",
                      "--state-policy", "PREPARE_MAINTENANCE=migrate", "--api-url", api.url, "--group", "aa-group")
    assert vnfm.started["workflow"] == "vnf"
    journal = Journal(api.journal)
    typed = {item["instance_id"]: item["migration_type"] for item in journal.constraints("instance", tenant_a)}
    assert {iid: typed.get(iid) for iid in members} == {iid: "LIVE_MIGRATE" for iid in members}

    session = journal.create_session([HOST], workflow="vnf", metadata={"release": "next"})
    sender = notifier(api, webhook_urls={tenant_a: vnfm.url})
    reply_at = sender.reply_at()
    state = "PREPARE_MAINTENANCE"
    sent = sender.ask_and_send(session, [ProjectAsk(tenant_a, state, members, allowed_actions_for(state),
                                                    reply_at, reply_at)])
    assert [(item["payload"]["instance_ids"], item["delivered"]) for item in sent] == [([iid], True) for iid in members]

    project = wait_reply(journal, session.session_id, tenant_a)
    assert project.reply == "ACK_PREPARE_MAINTENANCE" and project.instance_ids == members
    assert project.instance_actions == {iid: "LIVE_MIGRATE" for iid in members}
    answered = [e for e in journal.events(session.session_id) if e["kind"] == "instance.reply"]
    assert sorted(e["instance_id"] for e in answered) == members
    replied = [e for e in vnfm.events() if of_session(session.session_id, "replied")(e)]
    assert sorted((e["url"], e["body"]["instance_action"], e["body"]["session_id"], e["status"]) for e in replied) == [
        ("%s/maintenance/%s/%s/%s" % (api.url, session.session_id, tenant_a, iid), "LIVE_MIGRATE",
         session.session_id, 200) for iid in members]
    assert not [e for e in vnfm.events() if of_session(session.session_id, "error")(e)]


# ------------------------------------------------------------------ the bus

@pytest.fixture(scope="module")
def transport_url(test_cloud):
    return cloud_transport_url()


def test_bus_consumer_answers_its_own_project_only(start_vnfm, api, seed, tenant_a, transport_url):
    topic = "vnfm-test-%s" % uuid.uuid4().hex[:8]  # a topic of this test's own: no other consumer sees it
    vnfm = start_vnfm(12365, "--bus", transport_url, "--topic", topic, "--policy", "migrate", listen=False)
    assert vnfm.started["bus"] is True and vnfm.started["webhook"] is None
    bus = {"transport_url": transport_url, "topic": topic}
    try:
        tenant_b = seed["projects"]["tenant-b"]
        other, other_journal, other_sent = ask(api, tenant_b, "PLANNED_MAINTENANCE", servers_of(seed, "tenant-b", HOST),
                                               bus=bus)
        mine = servers_of(seed, "tenant-a", HOST)
        session, journal, sent = ask(api, tenant_a, "PLANNED_MAINTENANCE", mine, bus=bus)
        project = wait_reply(journal, session.session_id, tenant_a)
        assert project.reply == "ACK_PLANNED_MAINTENANCE"
        assert project.instance_actions == {iid: "MIGRATE" for iid in mine}
        received = vnfm.wait_for(of_session(session.session_id, "received"))
        assert (received["transport"], received["shape"], received["message_id"]) == ("bus", "oslo", sent["message_id"])
        ignored = vnfm.wait_for(of_session(other.session_id, "ignored"))
        assert ignored["message_id"] == other_sent["message_id"]
        assert other_journal.project(other.session_id, tenant_b).reply is None
    finally:
        # The sender binds a queue named after the routing key so that nothing is lost; nobody else reads it.
        with kombu.Connection(transport_url.replace("rabbit://", "amqp://", 1)) as connection:
            connection.default_channel.queue_delete("%s.info" % topic)


def _stamp(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
