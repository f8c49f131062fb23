"""The vnf workflow through the modules: project_notify and project_reply_wait ask a vnf session's
PREPARE/PLANNED_MAINTENANCE per instance."""

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.modules.project_notify import ProjectNotifyModule
from ansible_collections.fenix.maintenance.plugins.modules.project_reply_wait import ProjectReplyWaitModule
from fakes import FakeCloud
from module_runner import run_module
from webhook_server import WebhookServer

API = "http://127.0.0.1:12347/v1"
PLANNED = "PLANNED_MAINTENANCE"


def vnf_session(tmp_path):
    cloud = FakeCloud()
    mine = sorted([cloud.add_server("compute1", project_id="p1"), cloud.add_server("compute1", project_id="p1")])
    path = str(tmp_path / "j.sqlite")
    journal = Journal(path)
    journal.create_session(["compute1"], workflow="vnf", session_id="s1")
    journal.set_session_state("s1", PLANNED)
    return cloud, path, journal, mine


def test_project_notify_asks_each_instance_of_a_vnf_session(tmp_path):
    cloud, path, journal, mine = vnf_session(tmp_path)
    with WebhookServer() as hook:
        result = run_module(ProjectNotifyModule, dict(journal=path, session_id="s1", api_url=API,
                                                      webhook={"urls": {"p1": hook.url("/p1")}}), cloud)
        assert len(hook.bodies) == 2
    assert not result["failed"], result["msg"]
    assert [(n["project_id"], n["payload"]["instance_ids"], n["payload"]["reply_url"]) for n in result["notifications"]] \
        == [("p1", [iid], "%s/maintenance/s1/p1/%s" % (API, iid)) for iid in mine]
    assert [p["instance_ids"] for p in result["projects"]] == [mine]  # the project's one ask
    assert journal.project("s1", "p1").notify_count == 1


def test_project_notify_check_mode_predicts_the_per_instance_asks(tmp_path):
    cloud, path, journal, mine = vnf_session(tmp_path)
    result = run_module(ProjectNotifyModule, dict(journal=path, session_id="s1", api_url=API,
                                                  webhook={"urls": {}}), cloud, check_mode=True)
    assert [n["payload"]["instance_ids"] for n in result["notifications"]] == [[iid] for iid in mine]
    # No VNFM: the project is unreachable once, not once per instance.
    assert [item["project_id"] for item in result["unreachable_projects"]] == ["p1"]
    assert journal.projects("s1") == []


def test_project_reply_wait_reminds_the_instances_without_an_answer(tmp_path):
    cloud, path, journal, mine = vnf_session(tmp_path)
    with WebhookServer() as hook:
        webhook = {"urls": {"p1": hook.url("/p1")}}
        run_module(ProjectNotifyModule, dict(journal=path, session_id="s1", api_url=API, webhook=webhook), cloud)
        journal.record_instance_reply("s1", "p1", mine[0], "ACK_" + PLANNED, "MIGRATE")
        del hook.bodies[:]
        result = run_module(ProjectReplyWaitModule, dict(journal=path, session_id="s1", api_url=API, webhook=webhook,
                                                         timeout=1, poll_interval=0.05, renotify=1,
                                                         silent_policy="LIVE_MIGRATE"), cloud)
        reminders = list(hook.bodies)
    assert not result["failed"], result["msg"]
    assert result["reminders"] == [["p1"]] and len(reminders) == 1
    traits = {name: value for name, _kind, value in reminders[0][1]["reason_data"]["event"]["traits"]}
    assert traits["instance_ids"] == "['%s']" % mine[1]
    assert traits["reply_url"] == "%s/maintenance/s1/p1/%s" % (API, mine[1])
    # The silent instance got the policy's action; the one that answered kept its own.
    assert journal.project("s1", "p1").instance_actions == {mine[0]: "MIGRATE", mine[1]: "LIVE_MIGRATE"}
