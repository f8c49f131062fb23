"""project_notify and project_reply_wait against the test cloud's real RabbitMQ and Nova.

A real oslo.messaging notification listener (oslo_listener.py, run with the
cloud's Python) receives what project_notify publishes; a local HTTP server
stands for a VNFM's webhook. Nothing here disables a host or moves a server.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import servers_on
from nova_notifications import Listener, cloud_transport_url

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import host_id

API = "http://127.0.0.1:12347/v1"
HOST = "compute1"


@pytest.fixture(scope="module")
def transport_url(test_cloud):
    return cloud_transport_url()


@pytest.fixture
def listener(transport_url):
    made = []

    def start(exchange):
        made.append(Listener(transport_url, exchange))
        return made[-1]

    yield start
    for item in made:
        item.close()


class Webhook:
    """A VNFM's webhook: records (path, body) of every POST."""

    def __init__(self) -> None:
        self.bodies: list = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.bodies.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, project_id: str) -> str:
        return "http://127.0.0.1:%d/maintenance/%s" % (self.server.server_address[1], project_id)

    def events(self, project_id: str) -> list:
        return [body["reason_data"]["event"] for path, body in self.bodies if path.endswith("/" + project_id)]


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def projects_on(admin, host: str) -> dict:
    """project_id -> sorted server IDs on the host, read from Nova now."""
    projects: dict = {}
    for server in servers_on(admin, host):
        projects.setdefault(server.project_id, []).append(server.id)
    return {project_id: sorted(ids) for project_id, ids in projects.items()}


def session_task(journal: str, session_id: str) -> dict:
    return {"fenix.maintenance.maintenance_session": {
        "journal": journal, "session_id": session_id, "hosts": [HOST], "metadata": {"release": "2026.2"}}}


def traits_of(event: dict) -> dict:
    return {name: (kind, value) for name, kind, value in event["traits"]}


def test_notification_reaches_an_oslo_listener_and_a_webhook(playbook, admin, listener, webhook, transport_url,
                                                             tmp_path):
    journal, session_id = str(tmp_path / "journal.sqlite"), "notify-%s" % uuid.uuid4().hex[:8]
    expected = projects_on(admin, HOST)
    assert expected, "the seeded cloud has servers on %s" % HOST
    bus_listener = listener("openstack")
    bus = {"transport_url": transport_url}  # default exchange and topic, as oslo's notifier
    created, notified, admin_note = playbook.run(
        session_task(journal, session_id),
        {"fenix.maintenance.project_notify": {
            "journal": journal, "session_id": session_id, "api_url": API, "reply_timeout": 300, "bus": bus,
            "webhook": {"urls": {project_id: webhook.url(project_id) for project_id in expected}}}},
        {"fenix.maintenance.project_notify": {
            "journal": journal, "session_id": session_id, "event_type": "maintenance.host", "host": HOST,
            "host_state": "IN_MAINTENANCE", "bus": bus}},
    )
    assert not created.get("failed"), created
    assert not notified.get("failed"), notified.get("msg")
    assert notified["changed"] and sorted(n["project_id"] for n in notified["notifications"]) == sorted(expected)
    assert "guest:guest" not in json.dumps(notified)  # the transport URL's password stays out of the result

    received = bus_listener.wait_for(len(expected) + 1, lambda n: n["payload"].get("session_id") == session_id)
    scheduled = {n["payload"]["project_id"]: n for n in received if n["event_type"] == "maintenance.scheduled"}
    assert sorted(scheduled) == sorted(expected)
    sent = {n["project_id"]: n for n in notified["notifications"]}
    for project_id, notification in scheduled.items():
        payload = notification["payload"]
        assert payload == sent[project_id]["payload"]
        assert (notification["publisher_id"], notification["priority"]) == ("fenix", "info")
        assert notification["metadata"]["message_id"] == sent[project_id]["message_id"]
        url = "%s/maintenance/%s/%s" % (API, session_id, project_id)
        assert payload["instance_ids"] == url and payload["reply_url"] == url
        assert (payload["service"], payload["state"], payload["allowed_actions"]) == ("fenix", "MAINTENANCE", [])
        assert payload["metadata"] == {"release": "2026.2"}
        assert payload["reply_at"] > time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())  # in the future
        assert HOST not in json.dumps(payload)  # projects never see a physical host name

    host_events = [n for n in received if n["event_type"] == "maintenance.host"]
    assert admin_note["notifications"][0]["delivered"], admin_note
    assert [n["payload"] for n in host_events] == [{
        "service": "fenix", "host": HOST, "state": "IN_MAINTENANCE", "session_id": session_id,
        "project_id": admin.current_project_id}]

    for project_id, instances in expected.items():
        events = webhook.events(project_id)
        assert len(events) == 1 and events[0]["event_type"] == "maintenance.scheduled"
        traits = traits_of(events[0])
        assert traits["session_id"] == (1, session_id) and traits["project_id"] == (1, project_id)
        assert traits["reply_at"][0] == 4 and traits["allowed_actions"] == (1, "[]")
        record = Journal(journal).project(session_id, project_id)
        assert record.instance_ids == instances and record.notify_count == 1

    # The hostId helper gives what Nova shows the project for the same host.
    server = admin.compute.get_server(expected[sorted(expected)[0]][0])
    if server.compute_host == HOST:  # unless someone moved it meanwhile
        assert host_id(server.project_id, HOST) == server.host_id


def record_replies_soon(journal: str, session_id: str, replies: dict, delay: float) -> threading.Thread:
    """Answer for projects from another thread, as the API service would, after ``delay`` seconds."""
    def answer():
        time.sleep(delay)
        record = Journal(journal)
        for project_id, actions in replies.items():
            record.record_reply(session_id, project_id, "ACK_PLANNED_MAINTENANCE", actions)
        record.close()
    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


def notify_planned(playbook, journal: str, session_id: str, webhook: Webhook, expected: dict) -> dict:
    created, notified = playbook.run(
        session_task(journal, session_id),
        {"fenix.maintenance.project_notify": {
            "journal": journal, "session_id": session_id, "state": "PLANNED_MAINTENANCE", "api_url": API,
            "webhook": {"urls": {project_id: webhook.url(project_id) for project_id in expected}}}},
    )
    assert not notified.get("failed"), notified.get("msg")
    return {"journal": journal, "session_id": session_id, "state": "PLANNED_MAINTENANCE", "api_url": API,
            "poll_interval": 0.5, "webhook": {"urls": {p: webhook.url(p) for p in expected}}}


def test_reply_wait_returns_when_every_project_has_answered(playbook, admin, webhook, tmp_path):
    journal, session_id = str(tmp_path / "journal.sqlite"), "replies-%s" % uuid.uuid4().hex[:8]
    expected = projects_on(admin, HOST)
    options = notify_planned(playbook, journal, session_id, webhook, expected)
    replies = {project_id: {iid: "LIVE_MIGRATE" for iid in ids} for project_id, ids in expected.items()}
    record_replies_soon(journal, session_id, replies, delay=3)
    started = time.monotonic()
    (result,) = playbook.run({"fenix.maintenance.project_reply_wait": dict(options, timeout=120)})
    assert time.monotonic() - started < 60  # returned on the answers, not at the deadline
    assert not result.get("failed"), result.get("msg")
    assert not result["changed"] and result["silent"] == []
    for project in result["projects"]:
        assert project["decided_by"] == "replied" and project["reply"] == "ACK_PLANNED_MAINTENANCE"
        assert project["instance_actions"] == replies[project["project_id"]]
        assert project["latency"] > 0 and project["notify_count"] == 1


def test_reply_wait_reminds_then_applies_the_silent_policy(playbook, admin, webhook, tmp_path):
    journal, session_id = str(tmp_path / "journal.sqlite"), "policy-%s" % uuid.uuid4().hex[:8]
    expected = projects_on(admin, HOST)
    options = notify_planned(playbook, journal, session_id, webhook, expected)
    talker, *silent = sorted(expected)
    record_replies_soon(journal, session_id, {talker: {expected[talker][0]: "MIGRATE"}}, delay=1)
    policy, failing = playbook.run(
        {"fenix.maintenance.project_reply_wait": dict(options, timeout=8, renotify=1, silent_policy="LIVE_MIGRATE")},
        {"fenix.maintenance.project_reply_wait": dict(options, state="PLANNED_MAINTENANCE", timeout=1)},
    )
    assert not policy.get("failed"), policy.get("msg")
    by_project = {p["project_id"]: p for p in policy["projects"]}
    assert by_project[talker]["decided_by"] == "replied"
    assert by_project[talker]["instance_actions"] == {expected[talker][0]: "MIGRATE"}
    assert policy["answered_by_policy"] == silent and policy["changed"]
    for project_id in silent:
        assert by_project[project_id]["decided_by"] == "policy"
        assert by_project[project_id]["instance_actions"] == {iid: "LIVE_MIGRATE" for iid in expected[project_id]}
        assert by_project[project_id]["notify_count"] == 2
        assert len(webhook.events(project_id)) == 2  # the notification and one reminder
    assert policy["reminders"] == ([silent] if silent else [])
    # Every project has an answer now: a second wait with the fail policy passes at once.
    assert not failing.get("failed"), failing.get("msg")


def test_reply_wait_fails_naming_the_silent_projects(playbook, admin, webhook, tmp_path):
    journal, session_id = str(tmp_path / "journal.sqlite"), "silent-%s" % uuid.uuid4().hex[:8]
    expected = projects_on(admin, HOST)
    options = notify_planned(playbook, journal, session_id, webhook, expected)
    (result,) = playbook.run({"fenix.maintenance.project_reply_wait": dict(options, timeout=2)})
    assert result["failed"] and result["silent"] == sorted(expected)
    assert all(project_id in result["msg"] for project_id in expected)
    assert Journal(journal).session(session_id).state == "MAINTENANCE"  # the role decides, not the module


def test_a_project_without_a_vnfm_gets_the_policy_and_the_run_goes_on(playbook, admin, webhook, tmp_path):
    """Issue 11 section 4: a project with servers on the host and no webhook (and no bus) is unreachable, not a failure."""
    journal, session_id = str(tmp_path / "journal.sqlite"), "no-vnfm-%s" % uuid.uuid4().hex[:8]
    expected = projects_on(admin, HOST)
    assert expected, "the seeded cloud has servers on %s" % HOST
    lonely, *talkers = sorted(expected)  # lonely has servers on the host and no VNFM at all
    urls = {project_id: webhook.url(project_id) for project_id in talkers}
    options = {"journal": journal, "session_id": session_id, "state": "PLANNED_MAINTENANCE", "api_url": API,
               "webhook": {"urls": urls, "retries": 0}}
    created, notified = playbook.run(session_task(journal, session_id),
                                     {"fenix.maintenance.project_notify": dict(options, reply_timeout=3)})
    why = "no webhook URL and no bus: a project without a VNFM"
    assert not notified.get("failed"), notified.get("msg")
    record_replies_soon(journal, session_id, {p: {iid: "MIGRATE" for iid in expected[p]} for p in talkers}, delay=1)
    waited, read = playbook.run(
        {"fenix.maintenance.project_reply_wait": dict(options, reply_timeout=3, timeout=3, poll_interval=0.5,
                                                      renotify=1, silent_policy="LIVE_MIGRATE")},
        {"fenix.maintenance.maintenance_session_info": {"journal": journal, "session_id": session_id}},
    )
    assert notified["unreachable_projects"] == [
        {"project_id": lonely, "state": "PLANNED_MAINTENANCE", "reason": "no_vnfm", "why": why}]
    assert not waited.get("failed"), waited.get("msg")
    assert waited["unreachable_projects"] == [{"project_id": lonely, "why": why}] and waited["answered_by_policy"] == [lonely]
    assert waited["waited"] >= 3  # the policy decided at its deadline
    by_project = {p["project_id"]: p for p in waited["projects"]}
    assert by_project[lonely]["decided_by"] == "policy"
    assert by_project[lonely]["instance_actions"] == {iid: "LIVE_MIGRATE" for iid in expected[lonely]}
    assert all(by_project[p]["decided_by"] == "replied" for p in talkers)
    assert webhook.events(lonely) == []
    summary = read["sessions"][0]["summary"]
    assert summary["unreachable"] == {lonely: {"asks": 1, "states": ["PLANNED_MAINTENANCE"], "why": why,
                                               "decided_by": {"policy": 1, "project": 0, "none": 0}}}
    events = [e["details"]["reminder"] for e in Journal(journal).events(session_id)
              if e["kind"] == "project.unreachable" and e["project_id"] == lonely]
    assert events == [False, True]  # at the ask and again at the reminder
