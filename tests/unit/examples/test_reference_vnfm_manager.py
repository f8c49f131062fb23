"""What the reference VNFM does with each notification (examples/reference_vnfm/fenix_vnfm/manager.py), with fakes."""

from __future__ import annotations

import time

from fenix_vnfm import protocol
from vnfm_fakes import API, MINE, OTHER, PROJECT, FakeApi, aodh, make, payload

from ansible_collections.fenix.maintenance.plugins.module_utils.notify import notifier as notify


def test_planned_maintenance_is_acked_with_the_policy_action_for_every_listed_instance():
    manager, api, log = make("live_migrate")
    body, _notification = aodh(payload())
    manager.handle_body(body, "webhook")
    assert api.calls[0] == ("GET", "%s/maintenance/sid-1/%s" % (API, PROJECT), None)
    assert api.puts() == [("%s/maintenance/sid-1/%s" % (API, PROJECT), {
        "state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {MINE[0]: "LIVE_MIGRATE", MINE[1]: "LIVE_MIGRATE"}})]
    assert [line["event"] for line in log.lines] == ["received", "instances", "decided", "replied"]
    assert log.events("replied")[0]["after_reply_at"] is False


def test_an_answer_after_reply_at_says_so():
    manager, _api, log = make("live_migrate")
    manager.handle_body(aodh(dict(payload(), reply_at="2000-01-01 00:00:00"))[0], "webhook")
    assert log.events("replied")[0]["after_reply_at"] is True


def test_another_projects_notification_and_duplicates_are_ignored():
    manager, api, log = make()
    manager.handle_body(aodh(payload(project_id=OTHER))[0], "webhook")
    assert api.calls == [] and "not this VNFM's project" in log.events("ignored")[0]["reason"]
    body, _notification = aodh(payload())
    manager.handle_body(body, "webhook")
    manager.handle_body(body, "bus")
    assert len(api.puts()) == 1 and "duplicate" in log.events("ignored")[1]["reason"]


def test_host_events_are_not_for_a_vnfm():
    manager, api, log = make()
    host_event = notify.host_payload("sid-1", "compute1", "IN_MAINTENANCE", PROJECT)
    notification = notify.Notification(notify.HOST_EVENT, host_event)
    manager.handle_body(notify.oslo_envelope(notification), "bus")
    assert api.calls == [] and "maintenance.host" in log.events("ignored")[0]["reason"]


def test_a_body_that_is_no_notification_is_logged_and_dropped():
    manager, api, log = make()
    assert manager.handle_body({"hello": "world"}, "bus") is None
    assert api.calls == [] and log.events("error")[0]["error"].startswith("not a notification: ")
    assert log.events("error")[0]["transport"] == "bus"


def test_silent_sends_nothing_and_nack_says_no():
    manager, api, log = make("silent")
    manager.handle_body(aodh(payload())[0], "webhook")
    assert api.puts() == [] and log.events("decided")[0]["reply"] is None
    manager, api, _log = make("live_migrate", overrides=["PLANNED_MAINTENANCE=nack"])
    manager.handle_body(aodh(payload())[0], "webhook")
    assert api.puts()[0][1] == {"state": "NACK_PLANNED_MAINTENANCE"}


def test_own_action_is_recorded_before_the_ack_and_per_instance_answers_use_instance_urls():
    manager, api, log = make("own_action", per_instance=True)
    manager.handle_body(aodh(payload("PREPARE_MAINTENANCE"))[0], "webhook")
    base = "%s/maintenance/sid-1/%s" % (API, PROJECT)
    assert api.puts() == [(base + "/" + iid, {"state": "ACK_PREPARE_MAINTENANCE", "instance_action": "OWN_ACTION"})
                          for iid in MINE]
    events = [line["event"] for line in log.lines]
    assert events.index("own_action") < events.index("replied")
    assert log.events("own_action")[0]["instance_ids"] == MINE
    assert [line["instance_id"] for line in log.events("replied")] == MINE


def test_a_one_instance_list_is_answered_per_instance_as_in_fenix_vnf_workflow():
    manager, api, _log = make("migrate")
    body = dict(payload(), instance_ids=[MINE[1]], reply_url="%s/maintenance/sid-1/%s/%s" % (API, PROJECT, MINE[1]))
    manager.handle_body(body, "webhook")
    assert [call[0] for call in api.calls] == ["PUT"]  # the list is in the notification: no GET
    assert api.puts() == [(body["reply_url"], {"state": "ACK_PLANNED_MAINTENANCE", "instance_action": "MIGRATE"})]


def test_an_unreadable_instance_list_means_no_answer():
    class NoList(FakeApi):
        def call(self, method, url, body=None):
            if method == "GET":
                self.calls.append((method, url, body))
                return {"status": 503, "body": None, "attempts": 6, "error": "HTTP 503"}
            return super().call(method, url, body)

    manager, api, log = make(api=NoList())
    manager.handle_body(aodh(payload())[0], "webhook")
    assert api.puts() == [] and not log.events("decided")
    assert log.events("error")[0]["error"].startswith("ApiError: GET %s/maintenance/sid-1/%s failed after 6 attempts"
                                                      % (API, PROJECT))


def test_instance_action_done_checks_the_instance_and_answers_nothing():
    statuses = [{MINE[0]: "MIGRATING"}, {MINE[0]: "MIGRATING"}, {MINE[0]: "ACTIVE"}]
    manager, api, log = make(statuses=statuses)
    manager.handle_body(aodh(payload("INSTANCE_ACTION_DONE", instance_id=MINE[0]))[0], "webhook")
    assert api.calls == []
    assert manager.cloud.asked == [[MINE[0]]] * 3  # waited while it was migrating
    assert log.events("checked")[0]["all_active"] is True


def test_maintenance_complete_checks_every_server_then_acks():
    manager, api, log = make(statuses={MINE[1]: "ERROR"})
    manager.handle_body(aodh(payload("MAINTENANCE_COMPLETE"))[0], "webhook")
    checked = log.events("checked")[0]
    assert checked["all_active"] is False and checked["statuses"][MINE[1]] == "ERROR"
    assert api.puts()[0][1] == {"state": "ACK_MAINTENANCE_COMPLETE"}


def test_late_answer_waits_and_is_dropped_when_stopping():
    manager, api, log = make("late=0.3")
    started = time.monotonic()
    manager.handle_body(aodh(payload("MAINTENANCE"))[0], "webhook")
    assert time.monotonic() - started >= 0.3 and api.puts()[0][1] == {"state": "ACK_MAINTENANCE"}
    manager, api, log = make("late=30")
    manager.stop.set()
    manager.handle_body(aodh(payload("MAINTENANCE"))[0], "webhook")
    assert api.puts() == [] and log.events("dropped")


def test_a_failed_answer_is_logged():
    manager, _api, log = make(api=FakeApi(status=409))
    manager.handle_body(aodh(payload())[0], "webhook")
    assert log.events("reply_failed")[0]["error"] == "HTTP 409" and not log.events("replied")


def test_scale_in_deletes_servers_once_before_the_ack():
    manager, api, log = make(scale_in_delete=2, keep=[MINE[0]])
    manager.handle_body(aodh(payload("SCALE_IN"))[0], "webhook")
    assert manager.cloud.deleted == [(2, [MINE[0]])] and log.events("scaled_in")[0]["deleted"] == ["new-0", "new-1"]
    events = [line["event"] for line in log.lines]
    assert events.index("scaled_in") < events.index("replied") and api.puts()[0][1] == {"state": "ACK_SCALE_IN"}
    manager.handle_body(aodh(payload("SCALE_IN"))[0], "webhook")
    assert len(manager.cloud.deleted) == 1 and len(api.puts()) == 2  # once only; the second ask is ACKed as is


def test_a_nacked_scale_in_deletes_nothing():
    manager, api, _log = make("nack", scale_in_delete=1)
    manager.handle_body(aodh(payload("SCALE_IN"))[0], "webhook")
    assert manager.cloud.deleted == [] and api.puts()[0][1] == {"state": "NACK_SCALE_IN"}


def test_constraints_from_the_server_group():
    manager, api, log = make("migrate")
    manager.set_constraints(API + "/", "aa-group", protocol.ConstraintOptions(max_impacted=1, recovery_time=9))
    urls = [url for url, _body in api.puts()]
    assert urls == [API + "/instance_group/g-1", API + "/instance/" + MINE[0], API + "/instance/" + MINE[1]]
    group, first = api.puts()[0][1], api.puts()[1][1]
    assert group == {"group_id": "g-1", "project_id": PROJECT, "group_name": "aa-group", "anti_affinity_group": True,
                     "max_instances_per_host": 1, "max_impacted_members": 1, "recovery_time": 9,
                     "resource_mitigation": False}
    assert first["migration_type"] == "MIGRATE" and first["instance_name"] == "vm-0" and first["group_id"] == "g-1"
    assert len(log.events("constraints")) == 3


def test_constraints_the_api_refuses_are_deferred_until_the_first_answer():
    manager, api, log = make("migrate", api=FakeApi(statuses=[503, 200]))
    manager.set_constraints_when_possible(API, "aa-group", protocol.ConstraintOptions())
    assert log.events("constraints_deferred")[0]["error"] == "PUT %s/instance_group/g-1 failed: HTTP 503" % API
    assert manager.pending_constraints is not None and not log.events("constraints")
    assert api.retries_asked == [0]  # at start, one attempt: the API may not run yet
    manager.handle_body(aodh(payload("MAINTENANCE"))[0], "webhook")
    assert api.retries_asked[1:4] == [None] * 3  # before the first answer (then the answer), the client's retries
    events = [line["event"] for line in log.lines]
    assert events.count("constraints") == 3 and events.index("constraints") < events.index("replied")
    assert manager.pending_constraints is None
    manager.handle_body(aodh(payload("MAINTENANCE"))[0], "webhook")
    assert [line["event"] for line in log.lines].count("constraints") == 3  # set once


def test_constraints_the_api_takes_at_once_are_not_deferred():
    manager, api, log = make()
    manager.set_constraints_when_possible(API, "aa-group", protocol.ConstraintOptions())
    assert manager.pending_constraints is None and len(api.puts()) == 3 and not log.events("constraints_deferred")
