import json
import threading
import time
from unittest import mock

import kombu
from ansible.module_utils import basic

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import BusTransport
from ansible_collections.fenix.maintenance.plugins.modules.project_notify import ProjectNotifyModule
from fakes import FakeCloud
from module_runner import run_module
from webhook_server import WebhookServer

API = "http://127.0.0.1:12347/v1"


def setup(tmp_path, state=None):
    cloud = FakeCloud()
    servers = {
        "p1": [cloud.add_server("compute1", project_id="p1"), cloud.add_server("compute1", project_id="p1")],
        "p2": [cloud.add_server("compute1", project_id="p2")],
        "p3": [cloud.add_server("compute2", project_id="p3")],
    }
    path = str(tmp_path / "j.sqlite")
    journal = Journal(path)
    journal.create_session(["compute1"], metadata={"release": "2026.2"}, session_id="s1")
    if state:
        journal.set_session_state("s1", state)
    return cloud, path, journal, servers


def notify(cloud, journal, check_mode=False, **args):
    return run_module(ProjectNotifyModule, dict(args, journal=journal, session_id="s1"), cloud, check_mode=check_mode)


def test_projects_on_the_session_hosts_are_recorded_then_notified(tmp_path):
    cloud, path, journal, servers = setup(tmp_path)
    with WebhookServer() as hook:
        urls = {"p1": hook.url("/p1"), "p2": hook.url("/p2")}
        result = notify(cloud, path, api_url=API, webhook={"urls": urls})
        assert not result["failed"], result["msg"]
        assert result["changed"]
        assert [n["project_id"] for n in result["notifications"]] == ["p1", "p2"]  # p3 is on compute2
        first = result["notifications"][0]
        assert first["payload"]["state"] == "MAINTENANCE"  # the session's state
        assert first["payload"]["instance_ids"] == API + "/maintenance/s1/p1"
        assert first["payload"]["metadata"] == {"release": "2026.2"}
        assert first["delivered"] and first["deliveries"]["webhook"]["posts"][0]["status"] == 200
        assert sorted(item[0] for item in hook.bodies) == ["/p1", "/p2"]
        body = dict(hook.bodies)["/p1"]
        traits = {name: value for name, kind, value in body["reason_data"]["event"]["traits"]}
        assert traits["project_id"] == "p1" and traits["reply_url"] == API + "/maintenance/s1/p1"

        record = journal.project("s1", "p1")
        assert record.state == "MAINTENANCE" and record.notify_count == 1
        assert record.instance_ids == sorted(servers["p1"]) and record.reply_at == first["payload"]["reply_at"]
        assert {i.instance_id: i.host for i in journal.instances("s1", "p1")} == {s: "compute1" for s in servers["p1"]}
        assert [p["project_id"] for p in result["projects"]] == ["p1", "p2"]

        again = notify(cloud, path, api_url=API, webhook={"urls": urls})
        assert again["projects"][0]["notify_count"] == 2
    kinds = [e["kind"] for e in journal.events("s1")]
    assert kinds.count("notification.delivered") == 4


def test_check_mode_records_and_sends_nothing(tmp_path):
    cloud, path, journal = setup(tmp_path)[:3]
    with WebhookServer() as hook:
        result = notify(cloud, path, check_mode=True, state="PLANNED_MAINTENANCE", api_url=API,
                        webhook={"urls": {"p1": hook.url(), "p2": hook.url()}})
        assert result["changed"] and len(result["notifications"]) == 2
        assert result["notifications"][0]["payload"]["allowed_actions"] == ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"]
        assert hook.bodies == []
    assert journal.projects("s1") == [] and journal.instances("s1") == []


def notify_warned(cloud, journal, check_mode=False, **args):
    """The module's result, and the warnings it gave."""
    with mock.patch.object(basic.AnsibleModule, "warn", autospec=True) as warn:
        result = notify(cloud, journal, check_mode=check_mode, **args)
    return result, [call.args[1] for call in warn.call_args_list]


def test_a_project_without_a_vnfm_is_unreachable_not_a_failure(tmp_path):
    cloud, path, journal = setup(tmp_path)[:3]
    with WebhookServer() as hook:
        result, warnings = notify_warned(cloud, path, api_url=API, webhook={"urls": {"p1": hook.url()}})
        assert len(hook.bodies) == 1  # p1's; p2 has no URL, so nothing is posted for it
    assert not result["failed"], result["msg"]
    assert result["changed"]
    assert result["unreachable_projects"] == [{"project_id": "p2", "state": "MAINTENANCE", "reason": "no_vnfm",
                                               "why": "no webhook URL and no bus: a project without a VNFM"}]
    by_project = {item["project_id"]: item for item in result["notifications"]}
    assert by_project["p1"]["delivered"] and by_project["p1"]["unreachable"] is None
    assert not by_project["p2"]["delivered"] and by_project["p2"]["unreachable"]["reason"] == "no_vnfm"
    assert len(warnings) == 1 and warnings[0].startswith("no transport delivered the notification to project p2")
    assert "no webhook URL for project p2" in warnings[0]
    # p2 stays asked, so the reply wait gives it the silent policy at its deadline
    assert [p.project_id for p in journal.projects("s1")] == ["p1", "p2"]
    assert journal.project("s1", "p2").reply is None
    events = [(e["kind"], e["project_id"]) for e in journal.events("s1") if e["kind"].startswith(("notification.", "project.u"))]
    assert events == [("notification.delivered", "p1"), ("notification.failed", "p2"), ("project.unreachable", "p2")]
    unreachable = [e for e in journal.events("s1") if e["kind"] == "project.unreachable"][0]
    assert unreachable["details"]["state"] == "MAINTENANCE" and unreachable["details"]["reminder"] is False
    assert unreachable["details"]["why"] == "no webhook URL and no bus: a project without a VNFM"


def test_a_webhook_refusing_connections_is_unreachable_after_its_retries(tmp_path):
    cloud, path, journal = setup(tmp_path)[:3]
    closed = "http://127.0.0.1:9/hook"  # the discard port: nothing listens, the connection is refused
    with WebhookServer() as hook:
        result, warnings = notify_warned(cloud, path, api_url=API, webhook={
            "urls": {"p1": hook.url(), "p2": closed}, "retries": 1, "retry_delay": 0})
    assert not result["failed"], result["msg"]
    [p2] = result["unreachable_projects"]
    assert (p2["project_id"], p2["reason"]) == ("p2", "undelivered")
    assert p2["why"].startswith("webhook %s: " % closed) and p2["why"].endswith("after 2 attempts")
    assert "refused" in p2["why"].lower()
    post = {item["project_id"]: item for item in result["notifications"]}["p2"]["deliveries"]["webhook"]["posts"][0]
    assert post["attempts"] == 2 and post["status"] is None
    assert len(warnings) == 1 and "project p2" in warnings[0] and closed in warnings[0]
    assert [e["details"]["reason"] for e in journal.events("s1") if e["kind"] == "project.unreachable"] == ["undelivered"]


def test_with_a_bus_a_project_without_webhook_is_reached(tmp_path):
    cloud, path, journal = setup(tmp_path)[:3]
    memory = "memory://fenix-unreachable-test"
    with mock.patch.object(BusTransport, "_factory", lambda self, url, ssl: lambda: kombu.Connection(memory)):
        result = notify(cloud, path, api_url=API, bus={"transport_url": "rabbit://guest:secret@127.0.0.1:5672/"},
                        webhook={"urls": {}})
    assert not result["failed"], result["msg"]
    assert result["unreachable_projects"] == [] and all(item["delivered"] for item in result["notifications"])
    assert not [e for e in journal.events("s1") if e["kind"] == "project.unreachable"]
    with kombu.Connection(memory) as connection:  # take them off the in-memory broker, which the tests share
        queue = connection.SimpleQueue("notifications.info")
        projects = sorted(json.loads(queue.get(timeout=1).payload["oslo.message"])["payload"]["project_id"]
                          for _index in range(2))
        queue.close()
    assert projects == ["p1", "p2"]


def test_check_mode_predicts_the_projects_without_a_vnfm(tmp_path):
    cloud, path, journal = setup(tmp_path)[:3]
    with WebhookServer() as hook:
        result = notify(cloud, path, check_mode=True, api_url=API, webhook={"urls": {"p1": hook.url()}})
        assert hook.bodies == []
    assert not result["failed"] and result["changed"]
    assert result["unreachable_projects"] == [{"project_id": "p2", "state": "MAINTENANCE", "reason": "no_vnfm",
                                               "why": "no webhook URL and no bus: a project without a VNFM"}]
    assert journal.projects("s1") == [] and journal.events("s1")[-1]["kind"] == "session.created"


def test_a_webhook_url_of_another_scheme_is_a_configuration_error(tmp_path):
    cloud, path, journal = setup(tmp_path)[:3]
    result = notify(cloud, path, api_url=API, webhook={"urls": {"p1": "http://vnfm.example/hook",
                                                                "p2": ["ftp://vnfm.example/hook"]}})
    assert result["failed"]
    assert result["msg"] == ("webhook.urls.p2: 'ftp://vnfm.example/hook' is not an http or https URL;"
                             " give the VNFM's URL as http(s)://host[:port]/path")
    assert journal.projects("s1") == []  # refused before anything was recorded


def test_named_projects_and_actions_at(tmp_path):
    cloud, path, journal = setup(tmp_path)[:3]
    with WebhookServer() as hook:
        result = notify(cloud, path, state="SCALE_IN", api_url=API, actions_at="2026-12-01T03:00:00Z",
                        projects=[{"project_id": "p9", "instance_ids": ["i-9"]}], metadata={"why": "test"},
                        webhook={"urls": {"p9": hook.url()}})
    assert not result["failed"], result["msg"]
    payload = result["notifications"][0]["payload"]
    assert (payload["project_id"], payload["actions_at"], payload["metadata"]) == ("p9", "2026-12-01 03:00:00",
                                                                                   {"why": "test"})
    assert journal.project("s1", "p9").instance_ids == ["i-9"]
    assert cloud.calls["compute.servers"] == 0  # named projects need no server listing


def test_instance_action_done_tells_the_instances_project_and_keeps_its_answer(tmp_path):
    cloud, path, journal, servers = setup(tmp_path)
    instance = servers["p1"][0]
    with WebhookServer() as hook:
        webhook = {"urls": {"p1": hook.url()}}
        notify(cloud, path, state="PLANNED_MAINTENANCE", api_url=API, webhook=webhook)
        journal.record_reply("s1", "p1", "ACK_PLANNED_MAINTENANCE", {instance: "MIGRATE"})
        result = notify(cloud, path, state="INSTANCE_ACTION_DONE", instance_id=instance, api_url=API, webhook=webhook)
    assert not result["failed"], result["msg"]
    payload = result["notifications"][0]["payload"]
    assert payload["instance_ids"] == [instance] and payload["reply_at"] is None and payload["metadata"] == {}
    record = journal.project("s1", "p1")
    assert (record.state, record.reply) == ("PLANNED_MAINTENANCE", "ACK_PLANNED_MAINTENANCE")
    event = [e for e in journal.events("s1") if e["kind"] == "project.notified"][-1]
    assert event["instance_id"] == instance and event["details"]["state"] == "INSTANCE_ACTION_DONE"


def test_admin_host_notification_on_the_bus(tmp_path):
    cloud, path, journal = setup(tmp_path)[:3]
    memory = "memory://fenix-module-test"
    with mock.patch.object(BusTransport, "_factory", lambda self, url, ssl: lambda: kombu.Connection(memory)):
        result = notify(cloud, path, event_type="maintenance.host", host="compute1", host_state="IN_MAINTENANCE",
                        bus={"transport_url": "rabbit://guest:secret@127.0.0.1:5672/", "exchange": "fenix-unit"})
    assert not result["failed"], result["msg"]
    assert result["notifications"][0]["payload"] == {
        "service": "fenix", "host": "compute1", "state": "IN_MAINTENANCE", "session_id": "s1",
        "project_id": "admin-project"}
    assert result["notifications"][0]["deliveries"]["bus"]["transport_url"] == "rabbit://guest:***@127.0.0.1:5672/"
    with kombu.Connection(memory) as connection:
        queue = connection.SimpleQueue("notifications.info")
        message = json.loads(queue.get(timeout=1).payload["oslo.message"])
        queue.close()
    assert message["event_type"] == "maintenance.host" and message["payload"]["host"] == "compute1"
    assert [e["host"] for e in journal.events("s1") if e["kind"] == "host.notified"] == ["compute1"]


def test_api_url_from_the_catalog_or_a_clear_error(tmp_path):
    cloud, path = setup(tmp_path)[:2]
    with WebhookServer() as hook:
        webhook = {"urls": {"p1": hook.url(), "p2": hook.url()}}
        missing = notify(cloud, path, webhook=webhook)
        assert missing["failed"] and missing["msg"].startswith("api_url: not given and the catalog has no maintenance")
        cloud.endpoints["maintenance"] = "http://fenix.example:12347/v1"
        found = notify(cloud, path, webhook=webhook)
    assert found["notifications"][0]["payload"]["reply_url"] == "http://fenix.example:12347/v1/maintenance/s1/p1"


def test_bad_input_is_refused_before_anything_is_recorded(tmp_path):
    cloud, path, journal = setup(tmp_path, state="START_MAINTENANCE")[:3]
    no_transport = notify(cloud, path, api_url=API)
    assert no_transport["failed"] and "bus, webhook" in no_transport["msg"]
    wrong_state = notify(cloud, path, api_url=API, webhook={"urls": {}})
    assert wrong_state["failed"] and wrong_state["msg"].startswith("state: the session is in START_MAINTENANCE")
    bad_url = notify(cloud, path, api_url=API, state="MAINTENANCE", bus={"transport_url": "kafka://k:9092"})
    assert bad_url["failed"] and bad_url["msg"].startswith("bus.transport_url")
    no_session = run_module(ProjectNotifyModule, dict(journal=path, session_id="nope", api_url=API,
                                                      webhook={"urls": {}}), cloud)
    assert no_session["failed"] and "nope" in no_session["msg"]
    assert journal.projects("s1") == []


def test_move_session_moves_it_then_asks_in_one_task(tmp_path):
    cloud, path, journal = setup(tmp_path)[:3]
    with WebhookServer() as hook:
        urls = {"p1": hook.url("/p1"), "p2": hook.url("/p2")}
        predicted = run_module(ProjectNotifyModule, dict(journal=path, session_id="s1", state="PLANNED_MAINTENANCE",
                                                         move_session=True, api_url=API, webhook={"urls": urls}),
                               cloud, check_mode=True, diff=True)
        assert predicted["changed"] and predicted["session_state"] == "PLANNED_MAINTENANCE"
        assert predicted["diff"] == {"before": {"state": "MAINTENANCE"}, "after": {"state": "PLANNED_MAINTENANCE"}}
        assert journal.session("s1").state == "MAINTENANCE" and hook.bodies == []

        result = notify(cloud, path, state="PLANNED_MAINTENANCE", move_session=True, api_url=API, webhook={"urls": urls})
        assert not result["failed"], result["msg"]
        assert result["session_state"] == journal.session("s1").state == "PLANNED_MAINTENANCE"
        assert [body["reason_data"]["event"]["traits"] for _path, body in hook.bodies]
        kinds = [event["kind"] for event in journal.events("s1")]
        # The move is recorded before the projects are asked.
        assert kinds.index("session.state") < kinds.index("notification.delivered")
        assert journal.project("s1", "p1").state == "PLANNED_MAINTENANCE"

        again = notify(cloud, path, state="PLANNED_MAINTENANCE", move_session=True, api_url=API, webhook={"urls": urls})
        assert [event["kind"] for event in journal.events("s1")].count("session.state") == 1  # already there
        assert again["changed"]  # the projects were asked again


def test_move_session_needs_a_session_state(tmp_path):
    cloud, path, journal = setup(tmp_path)[:3]
    missing = notify(cloud, path, move_session=True, api_url=API, webhook={"urls": {}})
    assert missing["failed"] and "move_session" in missing["msg"] and "state" in missing["msg"]
    done = notify(cloud, path, state="INSTANCE_ACTION_DONE", instance_id="i-1", move_session=True, api_url=API,
                  webhook={"urls": {}})
    assert done["failed"]
    assert done["msg"].startswith("move_session: INSTANCE_ACTION_DONE is not a session state; move the session only")
    assert journal.session("s1").state == "MAINTENANCE" and journal.projects("s1") == []


def test_asks_made_ahead_stand_and_a_new_server_asks_its_project_again(tmp_path):
    cloud, path, journal, servers = setup(tmp_path, state="PLANNED_MAINTENANCE")
    cloud.add_server("compute2", project_id="p2")
    with WebhookServer() as hook:
        urls = {project: hook.url("/" + project) for project in ("p1", "p2", "p3")}
        ask = dict(state="PLANNED_MAINTENANCE", hosts=["compute2"], api_url=API, webhook={"urls": urls})
        # Asked ahead (while an earlier batch is upgraded): p2 and p3 have servers on compute2.
        ahead = notify(cloud, path, **ask)
        assert not ahead["failed"], ahead["msg"]
        assert ahead["asked_at"] == min(p["notified_at"] for p in ahead["projects"]) and ahead["kept_projects"] == []
        journal.record_reply("s1", "p3", "ACK_PLANNED_MAINTENANCE", {servers["p3"][0]: "MIGRATE"})
        delivered = len(hook.bodies)

        predicted = notify(cloud, path, check_mode=True, asked_since=ahead["asked_at"], **ask)
        assert predicted["notifications"] == [] and not predicted["changed"]
        assert [p["project_id"] for p in predicted["kept_projects"]] == ["p2", "p3"]

        # The batch begins: nobody is asked twice, p3's answer stands and p2 is still to answer.
        begins = notify(cloud, path, asked_since=ahead["asked_at"], **ask)
        assert not begins["failed"], begins["msg"]
        assert begins["notifications"] == [] and not begins["changed"] and begins["asked_at"] is None
        assert begins["kept_projects"] == [
            dict(project_id="p2", notified_at=journal.project("s1", "p2").notified_at, answered=False, reply=None),
            dict(project_id="p3", notified_at=journal.project("s1", "p3").notified_at, answered=True,
                 reply="ACK_PLANNED_MAINTENANCE")]
        assert len(hook.bodies) == delivered
        assert journal.project("s1", "p3").instance_actions == {servers["p3"][0]: "MIGRATE"}

        # A server that came to compute2 since: its project is asked again, about all its servers there.
        arrived = cloud.add_server("compute2", project_id="p3")
        again = notify(cloud, path, asked_since=ahead["asked_at"], **ask)
        assert [n["project_id"] for n in again["notifications"]] == ["p3"]
        assert [p["project_id"] for p in again["kept_projects"]] == ["p2"]
        record = journal.project("s1", "p3")
        assert record.instance_ids == sorted([servers["p3"][0], arrived]) and not record.answered

        # An ask older than asked_since (an earlier batch's) does not stand, even for the same servers.
        later = notify(cloud, path, asked_since=again["asked_at"], **ask)
        assert [n["project_id"] for n in later["notifications"]] == ["p2"]
        assert [p["project_id"] for p in later["kept_projects"]] == ["p3"]


def test_asked_since_that_is_no_time_is_refused_before_the_session_moves(tmp_path):
    cloud, path, journal = setup(tmp_path)[:3]
    result = notify(cloud, path, state="PLANNED_MAINTENANCE", move_session=True, asked_since="yesterday",
                    api_url=API, webhook={"urls": {}})
    assert result["failed"] and result["msg"].startswith("asked_since: ")
    assert "give the asked_at an earlier project_notify returned" in result["msg"]
    host_event = notify(cloud, path, event_type="maintenance.host", host="compute1", host_state="IN_MAINTENANCE",
                        asked_since="2026-12-01 02:00:00", bus={"transport_url": "rabbit://u:p@127.0.0.1:5672/"})
    assert host_event["failed"] and host_event["msg"] == "asked_since: only asks are kept; drop it for maintenance.host"
    assert journal.session("s1").state == "MAINTENANCE" and journal.projects("s1") == []


def answer_once_asked(path, replies, timeout=10.0, state="MAINTENANCE"):
    """Answers as the projects' VNFMs would, once this run's ask of each project is in the journal."""

    def answer():
        journal, deadline, left = Journal(path), time.monotonic() + timeout, dict(replies)
        while left and time.monotonic() < deadline:
            for record in journal.projects("s1"):
                if record.project_id in left and record.state == state and record.reply is None:
                    journal.record_reply("s1", record.project_id, left.pop(record.project_id))
            time.sleep(0.02)
    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


def test_wait_for_replies_asks_then_waits_for_every_answer_in_one_run(tmp_path):
    cloud, path, journal, _servers = setup(tmp_path)
    with WebhookServer() as hook:
        urls = {"p1": hook.url("/p1"), "p2": hook.url("/p2")}
        answering = answer_once_asked(path, {"p1": "ACK_MAINTENANCE", "p2": "ACK_MAINTENANCE"})
        result = notify(cloud, path, api_url=API, webhook={"urls": urls}, state="MAINTENANCE", move_session=True,
                        wait_for_replies=True, timeout=10, poll_interval=0.05)
        answering.join(5)
    assert not result["failed"], result["msg"]
    assert result["changed"] and [n["project_id"] for n in result["notifications"]] == ["p1", "p2"]
    replies = result["replies"]
    assert {p["project_id"]: (p["reply"], p["decided_by"]) for p in replies["projects"]} == {
        "p1": ("ACK_MAINTENANCE", "replied"), "p2": ("ACK_MAINTENANCE", "replied")}
    assert replies["silent"] == [] and replies["nacked"] == [] and replies["waited"] > 0
    assert result["session_state"] == "MAINTENANCE"


def test_wait_for_replies_fails_on_a_nack_and_applies_the_silent_policy(tmp_path):
    cloud, path, journal, _servers = setup(tmp_path)
    with WebhookServer() as hook:
        urls = {"p1": hook.url("/p1"), "p2": hook.url("/p2")}
        answering = answer_once_asked(path, {"p1": "NACK_MAINTENANCE"})
        refused = notify(cloud, path, api_url=API, webhook={"urls": urls}, state="MAINTENANCE",
                         wait_for_replies=True, timeout=10, poll_interval=0.05)
        answering.join(5)
        assert refused["failed"] and refused["msg"] == (
            "state MAINTENANCE refused: p1 answered NACK_MAINTENANCE; set fail_on_nack=false to let the play decide")
        assert refused["replies"]["nacked"] == ["p1"] and len(refused["notifications"]) == 2

        # p2 stays silent: reminded once, then answered for by the operator's policy.
        answering = answer_once_asked(path, {"p1": "ACK_MAINTENANCE"})
        decided = notify(cloud, path, api_url=API, webhook={"urls": urls}, state="MAINTENANCE",
                         wait_for_replies=True, timeout=1, poll_interval=0.05, renotify=1, silent_policy="MIGRATE")
        answering.join(5)
    assert not decided["failed"], decided["msg"]
    assert decided["replies"]["answered_by_policy"] == ["p2"] and decided["replies"]["reminders"]
    assert journal.project("s1", "p2").reply == "ACK_MAINTENANCE"


def test_wait_for_replies_is_refused_where_nobody_answers_and_skipped_in_check_mode(tmp_path):
    cloud, path, journal, servers = setup(tmp_path, state="PLANNED_MAINTENANCE")
    with WebhookServer() as hook:
        webhook = {"urls": {"p1": hook.url("/p1"), "p2": hook.url("/p2")}}
        done = notify(cloud, path, api_url=API, webhook=webhook, state="INSTANCE_ACTION_DONE",
                      instance_id=servers["p1"][0], wait_for_replies=True)
        host = notify(cloud, path, webhook=webhook, event_type="maintenance.host", host="compute1",
                      host_state="IN_MAINTENANCE", wait_for_replies=True)
        predicted = notify(cloud, path, check_mode=True, api_url=API, webhook=webhook, wait_for_replies=True,
                           timeout=10)
        assert hook.bodies == []
    assert done["failed"] and done["msg"] == (
        "wait_for_replies: nobody answers INSTANCE_ACTION_DONE; drop it, or wait with project_reply_wait for an ask")
    assert host["failed"] and host["msg"].startswith("wait_for_replies: nobody answers maintenance.host")
    assert not predicted["failed"] and predicted["changed"] and "replies" not in predicted
    assert journal.projects("s1") == []


def test_the_session_moves_on_once_the_projects_answered_in_the_same_run(tmp_path):
    cloud, path, journal, _servers = setup(tmp_path, state="PLANNED_MAINTENANCE")
    ask = dict(api_url=API, state="MAINTENANCE_COMPLETE", move_session=True, hosts=["compute1"],
               session_state_when_answered="MAINTENANCE_DONE", timeout=10, poll_interval=0.05)
    with WebhookServer() as hook:
        webhook = {"urls": {"p1": hook.url("/p1"), "p2": hook.url("/p2")}}
        alone = notify(cloud, path, **dict(ask, webhook=webhook))
        ask["wait_for_replies"] = True
        assert alone["failed"] and alone["msg"] == (
            "session_state_when_answered: the session moves once the projects answered; set wait_for_replies=true,"
            " or move it with maintenance_session")
        predicted = notify(cloud, path, check_mode=True, **dict(ask, webhook=webhook))
        assert hook.bodies == [] and journal.session("s1").state == "PLANNED_MAINTENANCE"
        answering = answer_once_asked(path, {"p1": "ACK_MAINTENANCE_COMPLETE", "p2": "ACK_MAINTENANCE_COMPLETE"},
                                      state="MAINTENANCE_COMPLETE")
        done = notify(cloud, path, **dict(ask, webhook=webhook))
        answering.join(5)
    assert not predicted["failed"] and predicted["changed"] and predicted["session_state"] == "MAINTENANCE_DONE"
    assert not done["failed"], done["msg"]
    assert done["changed"] and done["session_state"] == "MAINTENANCE_DONE"
    assert journal.session("s1").state == "MAINTENANCE_DONE"
    moves = [event for event in journal.events("s1") if event["kind"] == "session.state"]
    assert [event["details"]["to"] for event in moves][-2:] == ["MAINTENANCE_COMPLETE", "MAINTENANCE_DONE"]
    last_reply = max(record.replied_at for record in journal.projects("s1"))
    assert moves[-1]["at"] >= last_reply, "done only once both answered"


def test_a_refused_ask_leaves_the_session_where_it_was(tmp_path):
    cloud, path, journal, _servers = setup(tmp_path, state="PLANNED_MAINTENANCE")
    with WebhookServer() as hook:
        answering = answer_once_asked(path, {"p1": "NACK_MAINTENANCE_COMPLETE", "p2": "ACK_MAINTENANCE_COMPLETE"},
                                      state="MAINTENANCE_COMPLETE")
        refused = notify(cloud, path, api_url=API, webhook={"urls": {"p1": hook.url("/p1"), "p2": hook.url("/p2")}},
                         state="MAINTENANCE_COMPLETE", move_session=True, hosts=["compute1"], wait_for_replies=True,
                         session_state_when_answered="MAINTENANCE_DONE", timeout=10, poll_interval=0.05)
        answering.join(5)
    assert refused["failed"] and "p1 answered NACK_MAINTENANCE_COMPLETE" in refused["msg"]
    assert journal.session("s1").state == "MAINTENANCE_COMPLETE"
