import threading
import time

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.notify.notifier import allowed_actions_for
from ansible_collections.fenix.maintenance.plugins.modules.project_reply_wait import ProjectReplyWaitModule
from fakes import FakeCloud
from module_runner import run_module
from webhook_server import WebhookServer

API = "http://127.0.0.1:12347/v1"
STATE = "PLANNED_MAINTENANCE"


def asked(tmp_path):
    path = str(tmp_path / "j.sqlite")
    journal = Journal(path)
    journal.create_session(["compute1"], session_id="s1")
    journal.set_session_state("s1", STATE)
    for project_id, instances in (("p1", ["i1", "i2"]), ("p2", ["i3"])):
        for instance_id in instances:
            journal.set_instance("s1", instance_id, project_id, host="compute1")
        journal.notify_project("s1", project_id, STATE, instances, allowed_actions_for(STATE), None, None)
    return path, journal


def wait(path, check_mode=False, **args):
    args = dict(dict(timeout=2, poll_interval=0.05), **args)
    return run_module(ProjectReplyWaitModule, dict(args, journal=path, session_id="s1"), FakeCloud(),
                      check_mode=check_mode)


def later(seconds, action):
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def test_returns_once_every_project_has_answered(tmp_path):
    path, journal = asked(tmp_path)
    journal.record_reply("s1", "p1", "ACK_" + STATE, {"i1": "MIGRATE", "i2": "OWN_ACTION"})
    # a reply written by another process (the API service) while the module waits
    later(0.3, lambda: Journal(path).record_reply("s1", "p2", "ACK_" + STATE, {"i3": "LIVE_MIGRATE"})).join(0)
    started = time.monotonic()
    result = wait(path, timeout=10)
    assert not result["failed"], result["msg"]
    assert time.monotonic() - started < 5 and not result["changed"]
    assert result["state"] == STATE and result["silent"] == []
    by_project = {p["project_id"]: p for p in result["projects"]}
    assert by_project["p2"]["instance_actions"] == {"i3": "LIVE_MIGRATE"}
    assert by_project["p2"]["decided_by"] == "replied" and by_project["p2"]["latency"] >= 0.2
    assert by_project["p1"]["notify_count"] == 1


def test_silent_project_is_reminded_then_answered_for_by_policy(tmp_path):
    path, journal = asked(tmp_path)
    journal.record_reply("s1", "p1", "ACK_" + STATE, {"i1": "MIGRATE", "i2": "MIGRATE"})
    with WebhookServer() as hook:
        result = wait(path, timeout=1, renotify=1, silent_policy="LIVE_MIGRATE", api_url=API,
                      webhook={"urls": {"p2": hook.url()}})
        reminders = [item[1] for item in hook.bodies]
    assert not result["failed"], result["msg"]
    assert result["changed"] and result["reminders"] == [["p2"]] and result["answered_by_policy"] == ["p2"]
    assert len(reminders) == 1
    traits = {name: value for name, kind, value in reminders[0]["reason_data"]["event"]["traits"]}
    assert traits["state"] == STATE and traits["project_id"] == "p2"
    p2 = {p["project_id"]: p for p in result["projects"]}["p2"]
    assert p2["decided_by"] == "policy" and p2["reply"] == "ACK_" + STATE
    assert p2["instance_actions"] == {"i3": "LIVE_MIGRATE"} and p2["notify_count"] == 2
    assert journal.project("s1", "p1").instance_actions == {"i1": "MIGRATE", "i2": "MIGRATE"}


def test_fail_policy_names_the_silent_projects_and_leaves_the_session(tmp_path):
    path, journal = asked(tmp_path)
    journal.record_reply("s1", "p1", "ACK_" + STATE)
    result = wait(path, timeout=1)
    assert result["failed"] and result["silent"] == ["p2"]
    assert "no answer after 1s from projects p2" in result["msg"] and "silent_policy" in result["msg"]
    assert journal.session("s1").state == STATE and journal.project("s1", "p2").reply is None


def test_nack_fails_with_the_project_and_its_answer_unless_allowed(tmp_path):
    path, journal = asked(tmp_path)
    journal.record_reply("s1", "p1", "ACK_" + STATE)
    journal.record_reply("s1", "p2", "NACK_" + STATE)
    refused = wait(path, silent_policy="MIGRATE")
    assert refused["failed"] and "p2 answered NACK_PLANNED_MAINTENANCE" in refused["msg"]
    assert refused["nacked"] == ["p2"]
    allowed = wait(path, fail_on_nack=False)
    assert not allowed["failed"] and allowed["nacked"] == ["p2"]


def test_check_mode_reads_once_and_decides_nothing(tmp_path):
    path, journal = asked(tmp_path)
    started = time.monotonic()
    result = wait(path, check_mode=True, timeout=30, silent_policy="MIGRATE")
    assert time.monotonic() - started < 5
    assert not result["failed"] and result["changed"] and result["silent"] == ["p1", "p2"]
    assert journal.project("s1", "p1").reply is None
    quiet = wait(path, check_mode=True, timeout=30)
    assert not quiet["changed"]  # with the fail policy and no reminders nothing would change


def test_reminders_need_a_transport(tmp_path):
    path = asked(tmp_path)[0]
    result = wait(path, renotify=2)
    assert result["failed"] and result["msg"].startswith("renotify: reminders need a transport")


def test_fail_policy_names_the_unreachable_projects_apart_from_the_silent(tmp_path):
    path, journal = asked(tmp_path)
    journal.notify_project("s1", "p3", STATE, [], allowed_actions_for(STATE), None, None)
    journal.record_event("s1", "project.unreachable", project_id="p2",
                         details={"state": STATE, "reason": "no_vnfm", "reminder": False,
                                  "why": "no webhook URL and no bus: a project without a VNFM"})
    journal.record_reply("s1", "p1", "ACK_" + STATE)
    result = wait(path, timeout=1)
    assert result["failed"] and result["silent"] == ["p2", "p3"]
    assert result["unreachable_projects"] == [{"project_id": "p2", "why": "no webhook URL and no bus: a project without a VNFM"}]
    assert result["msg"] == (
        "state PLANNED_MAINTENANCE: projects p2 could not be reached (p2: no webhook URL and no bus: a project"
        " without a VNFM) and no answer after 1s from projects p3; make them reachable (a working webhook URL,"
        " their AODH alarm, or the bus), raise timeout, add renotify, or set silent_policy to LIVE_MIGRATE or MIGRATE")
    assert {p["project_id"]: p["unreachable"] for p in result["projects"]}["p3"] is None


def test_an_unreachable_project_gets_the_policy_at_its_deadline_and_the_run_goes_on(tmp_path):
    path, journal = asked(tmp_path)
    journal.record_reply("s1", "p1", "ACK_" + STATE)
    closed = "http://127.0.0.1:9/hook"
    journal.record_event("s1", "project.unreachable", project_id="p2",
                         details={"state": STATE, "reason": "undelivered", "reminder": False,
                                  "why": "webhook %s: connection refused after 4 attempts" % closed})
    started = time.monotonic()
    result = wait(path, timeout=1, renotify=1, silent_policy="MIGRATE", api_url=API,
                  webhook={"urls": {"p2": closed}, "retries": 0, "retry_delay": 0})
    assert not result["failed"], result["msg"]
    assert time.monotonic() - started >= 1  # at its deadline, not before
    assert result["answered_by_policy"] == ["p2"] and result["reminders"] == [["p2"]]
    assert result["unreachable_projects"][0]["project_id"] == "p2"
    assert result["unreachable_projects"][0]["why"].startswith("webhook %s: " % closed)  # the reminder's failure, now
    assert result["unreachable_projects"][0]["why"].endswith("after 1 attempt")
    assert {p["project_id"]: p["decided_by"] for p in result["projects"]} == {"p1": "replied", "p2": "policy"}


def test_decide_at_once_is_the_sessions_setting(tmp_path):
    path, journal = asked(tmp_path)
    journal.record_reply("s1", "p1", "ACK_" + STATE)
    journal.record_policy_reply("s1", "p2", "MIGRATE", policy="silent_policy=MIGRATE")  # silent at this ask
    for project_id, instances in (("p1", ["i1", "i2"]), ("p2", ["i3"])):  # the next batch asks both again
        journal.notify_project("s1", project_id, STATE, instances, allowed_actions_for(STATE), None, None)
    journal.record_reply("s1", "p1", "ACK_" + STATE)

    journal.set_silent_projects("s1", "decide_at_once")
    predicted = wait(path, check_mode=True, timeout=30, silent_policy="MIGRATE")
    assert predicted["changed"] and predicted["decided_at_once"] == ["p2"] and predicted["answered_by_policy"] == []
    assert predicted["silent_projects"] == "decide_at_once" and journal.project("s1", "p2").reply is None

    started = time.monotonic()
    result = wait(path, timeout=30, silent_policy="MIGRATE")
    assert not result["failed"], result["msg"]
    assert time.monotonic() - started < 5 and result["waited"] < 5  # one reply timeout saved
    assert result["decided_at_once"] == ["p2"] and result["answered_by_policy"] == ["p2"]
    assert journal.project("s1", "p2").instance_actions == {"i3": "MIGRATE"}


def test_ask_again_waits_for_a_project_silent_before(tmp_path):
    path, journal = asked(tmp_path)
    journal.record_reply("s1", "p1", "ACK_" + STATE)
    journal.record_policy_reply("s1", "p2", "MIGRATE", policy="silent_policy=MIGRATE")
    journal.notify_project("s1", "p2", STATE, ["i3"], allowed_actions_for(STATE), None, None)
    result = wait(path, timeout=1, silent_policy="MIGRATE")
    assert not result["failed"] and result["silent_projects"] == "ask_again"
    assert result["decided_at_once"] == [] and result["answered_by_policy"] == ["p2"] and result["waited"] >= 1
