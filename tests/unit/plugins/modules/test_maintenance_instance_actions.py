"""maintenance_instance_actions with a faked cloud: answers decide, waves order, journal first, announcements."""

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import MigrationSettings
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.modules.maintenance_instance_actions import (
    MaintenanceInstanceActionsModule,
)
from fakes import FakeCloud
from module_runner import run_module
from webhook_server import WebhookServer

API = "http://127.0.0.1:12347/v1"
ALL = ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"]


def setup(tmp_path):
    cloud = FakeCloud()
    vm = {
        "a1": cloud.add_server("compute1", project_id="pa"),
        "a2": cloud.add_server("compute1", project_id="pa", status="SHUTOFF"),
        "b1": cloud.add_server("compute1", project_id="pb"),
        "c1": cloud.add_server("compute2", project_id="pc"),
    }
    path = str(tmp_path / "j.sqlite")
    journal = Journal(path)
    journal.create_session(["compute1"], session_id="s1")
    journal.set_session_state("s1", "PLANNED_MAINTENANCE")
    journal.notify_project("s1", "pa", "PLANNED_MAINTENANCE", [vm["a1"], vm["a2"]], ALL)
    journal.notify_project("s1", "pb", "PLANNED_MAINTENANCE", [vm["b1"]], ALL)
    return cloud, path, journal, vm


def act(cloud, path, hook, check_mode=False, **args):
    params = dict(session_id="s1", journal=path, hosts=["compute1"], api_url=API, poll_interval=0,
                  retry_delay=0, webhook={"urls": {"pa": hook.url("/pa"), "pb": hook.url("/pb")}})
    return run_module(MaintenanceInstanceActionsModule, dict(params, **args), cloud, check_mode=check_mode)


def test_projects_answers_decide_and_waves_run_in_order(tmp_path):
    cloud, path, journal, vm = setup(tmp_path)
    journal.record_reply("s1", "pa", "ACK_PLANNED_MAINTENANCE", {vm["a1"]: "MIGRATE", vm["a2"]: "LIVE_MIGRATE"})
    journal.record_reply("s1", "pb", "ACK_PLANNED_MAINTENANCE")
    # As maintenance_plan gives them: a list of waves (extra keys ignored).
    waves = [[{"server_id": vm["a2"], "to_host": "compute2", "kind": "MIGRATE", "moves_again": False},
              {"server_id": vm["b1"], "to_host": "compute2", "kind": "LIVE_MIGRATE", "group_id": None}],
             [{"server_id": vm["a1"], "to_host": "compute3", "kind": "LIVE_MIGRATE"}]]
    with WebhookServer() as hook:
        result = act(cloud, path, hook, waves=waves)
        assert not result["failed"], result["msg"]
        done = {item["server_id"]: item for item in result["instances"]}
        assert done[vm["a1"]]["action"] == "MIGRATE" and done[vm["a1"]]["decided_by"] == "project"
        assert done[vm["a1"]]["to_host"] == "compute3"
        # LIVE_MIGRATE of a stopped server is done cold, and says so.
        assert done[vm["a2"]]["action"] == "MIGRATE" and "SHUTOFF" in done[vm["a2"]]["note"]
        assert done[vm["b1"]]["action"] == "LIVE_MIGRATE" and done[vm["b1"]]["decided_by"] == "plan"
        assert result["counts"] == {"LIVE_MIGRATE": 1, "MIGRATE": 2, "OWN_ACTION": 0}
        assert {cloud.servers[s].compute_host for s in (vm["a1"], vm["a2"], vm["b1"])} <= {"compute2", "compute3"}
        # Every finished action was announced to its project, wave 0 before wave 1.
        announced = [(path_, traits_of(body)["instance_ids"]) for path_, body in hook.bodies]
        assert sorted(announced) == sorted([("/pa", "['%s']" % vm["a1"]), ("/pa", "['%s']" % vm["a2"]),
                                            ("/pb", "['%s']" % vm["b1"])])
        assert announced[-1] == ("/pa", "['%s']" % vm["a1"])
    records = {record.instance_id: record for record in journal.instances("s1")}
    assert all(records[vm[name]].action_done for name in ("a1", "a2", "b1"))
    assert records[vm["a1"]].host == "compute3"


def traits_of(body):
    return {name: value for name, _kind, value in body["reason_data"]["event"]["traits"]}


def test_nack_stops_before_anything_moves(tmp_path):
    cloud, path, journal, vm = setup(tmp_path)
    journal.record_reply("s1", "pa", "NACK_PLANNED_MAINTENANCE")
    with WebhookServer() as hook:
        result = act(cloud, path, hook)
    assert result["failed"] and "projects pa answered NACK; nothing was moved" in result["msg"]
    assert all(cloud.servers[vm[name]].compute_host == "compute1" for name in ("a1", "a2", "b1"))


def test_several_at_a_time_are_journaled_and_polled_per_host(tmp_path):
    cloud, path, journal, vm = setup(tmp_path)
    cloud.settle_polls = 5  # each migration takes several polls
    journal.record_reply("s1", "pa", "ACK_PLANNED_MAINTENANCE")
    journal.record_reply("s1", "pb", "ACK_PLANNED_MAINTENANCE")
    with WebhookServer() as hook:
        result = act(cloud, path, hook, concurrency=4)
        assert not result["failed"], result["msg"]
        assert len(hook.bodies) == 3
    assert all(cloud.servers[vm[name]].compute_host != "compute1" for name in ("a1", "a2", "b1"))
    assert sorted(move.state for move in journal.moves("s1")) == ["DONE"] * 3
    # Each server read alone at most twice (before its request, and where it landed), never once per poll.
    assert cloud.calls["compute.get_server"] <= 2 * 3


def test_check_mode_decides_and_moves_nothing(tmp_path):
    cloud, path, journal, vm = setup(tmp_path)
    with WebhookServer() as hook:
        result = act(cloud, path, hook, check_mode=True)
        assert hook.bodies == []
    assert result["changed"] and len(result["instances"]) == 3
    assert all(item["outcome"] is None for item in result["instances"])
    assert cloud.servers[vm["a1"]].compute_host == "compute1"
    assert not any(record.action_done for record in journal.instances("s1"))


def test_own_action_waits_for_the_project(tmp_path):
    cloud, path, journal, vm = setup(tmp_path)
    journal.record_reply("s1", "pa", "ACK_PLANNED_MAINTENANCE", {vm["a1"]: "OWN_ACTION", vm["a2"]: "OWN_ACTION"})
    journal.record_reply("s1", "pb", "NACK_PLANNED_MAINTENANCE")
    del cloud.servers[vm["b1"]]
    cloud.move(cloud.servers[vm["a2"]], "compute3")  # the project moved one itself; the other never goes
    with WebhookServer() as hook:
        result = act(cloud, path, hook, timeout=0, allow_nack=True)
    assert result["failed"] and "did not move it off compute1 within 0s (OWN_ACTION)" in result["msg"]
    done = {item["server_id"]: item for item in result["instances"]}
    assert vm["a2"] not in done  # already gone: nothing to do for it
    assert done[vm["a1"]]["outcome"] == "failed"


def test_own_action_is_done_when_the_server_leaves(tmp_path):
    from types import SimpleNamespace
    from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.instance_actions import (
        InstanceActions, InstanceWork)
    journal = Journal(str(tmp_path / "j.sqlite"))
    journal.create_session(["compute1"], session_id="s1")
    polls = [[SimpleNamespace(id="vm-1", compute_host="compute1")]] * 2 + [[SimpleNamespace(id="vm-1", compute_host="compute4")]]
    announced, clock = [], [0.0]
    actions = InstanceActions(None, journal, "s1", migrator=None, announce=announced.append, timeout=60,
                              poll_interval=5, list_servers=lambda: polls.pop(0),
                              clock=lambda: clock[0], sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    work = [InstanceWork("vm-1", "pa", "db", "compute1", "ACTIVE", "OWN_ACTION", None, 0, "project")]
    actions.await_own_actions(work)
    assert (work[0].outcome, work[0].to_host, work[0].duration) == ("done", "compute4", 10.0)
    assert [item.server_id for item in announced] == ["vm-1"]
    assert journal.instances("s1")[0].action_done


def test_a_planned_target_that_fails_the_migration_is_dropped_and_the_scheduler_chooses(tmp_path):
    cloud, path, journal, vm = setup(tmp_path)
    journal.record_reply("s1", "pa", "ACK_PLANNED_MAINTENANCE")
    journal.record_reply("s1", "pb", "ACK_PLANNED_MAINTENANCE")
    cloud.failing_targets = {"compute2"}  # its compute went down after the plan
    waves = [[{"server_id": vm["a1"], "to_host": "compute2", "kind": "LIVE_MIGRATE"},
              {"server_id": vm["a2"], "to_host": "compute2", "kind": "MIGRATE"},
              {"server_id": vm["b1"], "to_host": "compute3", "kind": "LIVE_MIGRATE"}]]
    with WebhookServer() as hook:
        result = act(cloud, path, hook, waves=waves, retries=1)
    assert not result["failed"], result["msg"]
    done = {item["server_id"]: item for item in result["instances"]}
    for name in ("a1", "a2"):
        assert done[vm[name]]["to_host"] == cloud.servers[vm[name]].compute_host == "compute3"
        assert done[vm[name]]["note"] == "its planned target compute2 failed the migration: the scheduler chose"
    assert done[vm["b1"]]["note"] is None and done[vm["b1"]]["to_host"] == "compute3"
    dropped = [event for event in journal.events("s1") if event["kind"] == "instance.migration_target_dropped"]
    assert sorted(event["instance_id"] for event in dropped) == sorted([vm["a1"], vm["a2"]])
    assert all(event["details"]["target"] == "compute2" for event in dropped)


def test_where_the_scheduler_placed_a_server_its_anti_affinity_group_is_checked(tmp_path):
    from types import SimpleNamespace

    def moved(last_target, workdir):
        """a1 and c1 (on compute2) in one anti-affinity group; a1 moves last, to ``last_target``."""
        workdir.mkdir()
        cloud, path, journal, vm = setup(workdir)
        journal.record_reply("s1", "pa", "ACK_PLANNED_MAINTENANCE")
        journal.record_reply("s1", "pb", "ACK_PLANNED_MAINTENANCE")
        cloud.groups = [SimpleNamespace(id="g1", name="aa-web", policy="anti-affinity", policies=None,
                                        member_ids=[vm["a1"], vm["c1"]])]
        waves = [[{"server_id": vm["a2"], "to_host": "compute3", "kind": "MIGRATE"},
                  {"server_id": vm["b1"], "to_host": "compute3", "kind": "LIVE_MIGRATE"}],
                 [{"server_id": vm["a1"], "to_host": last_target, "kind": "LIVE_MIGRATE", "group_id": "g1"}]]
        with WebhookServer() as hook:
            return cloud, vm, act(cloud, path, hook, waves=waves)

    # No target: the fake scheduler takes compute2, where the other member is.
    _cloud, vm, result = moved(None, tmp_path / "scheduler")
    assert result["failed"]
    assert result["msg"] == "where the scheduler placed them, anti-affinity group aa-web has %s and %s on compute2" % (
        vm["a1"], vm["c1"])
    # Named targets are the planner's, which checked them: no group is read.
    cloud, _vm, result = moved("compute3", tmp_path / "planned")
    assert not result["failed"], result["msg"]
    assert cloud.calls["compute.server_groups"] == 0


def test_wait_empty_ends_when_the_hosts_hold_nothing_and_fails_naming_what_is_left(tmp_path):
    cloud, path, journal, _vm = setup(tmp_path)
    journal.record_reply("s1", "pa", "ACK_PLANNED_MAINTENANCE")
    journal.record_reply("s1", "pb", "ACK_PLANNED_MAINTENANCE")
    with WebhookServer() as hook:
        moved = act(cloud, path, hook, wait_empty=True, empty_timeout=0)
        assert not moved["failed"], moved["msg"]
        assert [entry["host"] for entry in moved["empty"]] == ["compute1"]
        assert not any(server.compute_host == "compute1" for server in cloud.servers.values())

        # Moved again (nothing to do): an allocation left behind on the host keeps it from being empty.
        cloud.allocations["compute1"]["migration-x"] = {"resources": {"VCPU": 1}}
        left = act(cloud, path, hook, wait_empty=True, empty_timeout=0)
    assert left["failed"] and "host compute1 is not empty after 0s: placement allocation of consumer migration-x" in left["msg"]
    assert left["remaining"] == [{"allocation_consumer": "migration-x", "resources": {"VCPU": 1}}]
    assert left["empty"] == [] and left["instances"] == []


def test_wait_empty_is_not_done_in_check_mode(tmp_path):
    cloud, path, journal, _vm = setup(tmp_path)
    journal.record_reply("s1", "pa", "ACK_PLANNED_MAINTENANCE")
    with WebhookServer() as hook:
        result = act(cloud, path, hook, check_mode=True, wait_empty=True, empty_timeout=0)
    assert not result["failed"] and "empty" not in result
    assert cloud.calls["placement.get"] == 0


def test_upgrade_begins_is_recorded_once_the_hosts_are_empty_and_not_before(tmp_path):
    cloud, path, journal, _vm = setup(tmp_path)
    journal.record_reply("s1", "pa", "ACK_PLANNED_MAINTENANCE")
    journal.record_reply("s1", "pb", "ACK_PLANNED_MAINTENANCE")

    def record():
        host = journal.hosts("s1")[0]
        return host.state, host.details.get("upgrade_started")
    before = record()
    with WebhookServer() as hook:
        predicted = act(cloud, path, hook, check_mode=True, wait_empty=True, upgrade_begins=True)
        assert predicted["changed"] and record() == before
        # A host that does not empty is not recorded: its upgrade has not begun.
        cloud.allocations["compute1"]["migration-x"] = {"resources": {"VCPU": 1}}
        stuck = act(cloud, path, hook, wait_empty=True, empty_timeout=0, upgrade_begins=True)
        assert stuck["failed"] and "is not empty" in stuck["msg"] and record() == before
        del cloud.allocations["compute1"]["migration-x"]
        emptied = act(cloud, path, hook, wait_empty=True, empty_timeout=0, upgrade_begins=True)
        assert not emptied["failed"], emptied["msg"]
        assert emptied["changed"] and record() == ("IN_MAINTENANCE", True)
        again = act(cloud, path, hook, wait_empty=True, empty_timeout=0, upgrade_begins=True)
    assert not again["failed"] and again["changed"] is False


def test_upgrade_begins_needs_wait_empty_and_hosts_of_the_session(tmp_path):
    cloud, path, journal, _vm = setup(tmp_path)
    journal.record_reply("s1", "pa", "ACK_PLANNED_MAINTENANCE")
    journal.record_reply("s1", "pb", "ACK_PLANNED_MAINTENANCE")  # all would move: the error comes first
    with WebhookServer() as hook:
        alone = act(cloud, path, hook, upgrade_begins=True)
        outside = act(cloud, path, hook, hosts=["compute1", "compute2"], wait_empty=True, upgrade_begins=True)
    assert alone["failed"] and alone["msg"] == (
        "upgrade_begins: a host's upgrade begins once it is empty; set wait_empty=true as well")
    assert outside["failed"] and outside["msg"] == (
        "upgrade_begins: compute2 is not a host of session s1; its hosts are compute1")
    assert cloud.calls["compute.live_migrate_server"] + cloud.calls["compute.migrate_server"] == 0
    assert not journal.hosts("s1")[0].details


def test_a_stuck_migration_is_journaled_with_its_progress_and_what_its_timeout_led_to(tmp_path):
    from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import MigrationSettings, Migrator
    from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.instance_actions import (
        InstanceActions, InstanceWork)
    cloud = FakeCloud(settle_polls=10 ** 6)  # the live migration never ends by itself
    server = cloud.add_server("compute1", project_id="pa", name="web")
    journal = Journal(str(tmp_path / "j.sqlite"))
    journal.create_session(["compute1"], session_id="s1")
    announced, clock = [], [0.0]

    def sleep(seconds):
        clock[0] += seconds

    migrator = Migrator(cloud, MigrationSettings(timeout=25, poll_interval=1, retries=0),
                        clock=lambda: clock[0], sleep=sleep)
    actions = InstanceActions(cloud, journal, "s1", migrator, announce=announced.append, timeout=25, poll_interval=1,
                              list_servers=list, clock=lambda: clock[0], sleep=sleep)
    work = [InstanceWork(server, "pa", "web", "compute1", "ACTIVE", "LIVE_MIGRATE", "compute2", 0, "project")]
    actions.migrate(work)
    item = work[0]
    assert (item.outcome, item.timeout_action) == ("failed", "aborted")
    assert [line["memory_remaining_percent"] for line in item.progress] == [75, 50]
    events = [event for event in journal.events("s1") if event["kind"].startswith("instance.migration_")]
    assert [(event["kind"], event["instance_id"], event["project_id"], event["host"]) for event in events] == [
        ("instance.migration_progress", server, "pa", "compute1")] * 2 + [
        ("instance.migration_timeout", server, "pa", "compute1")]
    assert [event["details"] for event in events[:2]] == item.progress
    assert events[2]["details"]["action"] == "aborted"
    assert events[2]["details"]["server"] == {"status": "ACTIVE", "task_state": None, "host": "compute1"}
    move, = journal.moves("s1")
    assert move.state == "FAILED" and "on_timeout: abort: aborted migration 1 (running)" in move.error
    assert announced == [] and cloud.servers[server].compute_host == "compute1"


class SteppedTime:
    """The journal's clock, the wall clock and sleep of one test: time moves only when someone sleeps."""

    def __init__(self):
        from datetime import datetime, timezone
        self.moment = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)
        self.slept = []

    def now(self):
        return self.moment

    def stamp(self):
        from ansible_collections.fenix.maintenance.plugins.module_utils.clock import TIME_FORMAT
        return self.moment.strftime(TIME_FORMAT)

    def sleep(self, seconds):
        from datetime import timedelta
        self.slept.append(round(seconds, 3))
        self.moment += timedelta(seconds=seconds)


class InstantMigrator:
    """Every migration lands on its target at once (SteppedTime does not move while it runs), one at a time."""

    settings = MigrationSettings(concurrency=1)

    def __init__(self, time_):
        self.time, self.started = time_, []

    def migrate_all(self, requests, events=None, started=None, ended=None, order=None, read=None):
        assert order is None, "one at a time, the waves run one after the other"
        outcomes = []
        for request in requests:
            started(request)
            outcomes.append(self.migrate(request, events))
            ended(request, outcomes[-1])
        return outcomes

    def migrate(self, request, events=None):
        from types import SimpleNamespace
        self.started.append((request.server_id, self.time.now()))
        return SimpleNamespace(ok=True, destination=request.target_host, error=None, duration=0.0,
                               timeout_action=None, progress=[], dropped_target=None)


def test_lead_time_and_recovery_time_hold_each_instance_back(tmp_path):
    from datetime import timedelta
    from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.instance_actions import (
        InstanceActions, InstanceWork)
    time_ = SteppedTime()
    journal = Journal(str(tmp_path / "j.sqlite"), clock=time_.stamp)
    journal.create_session(["compute1", "compute2"], session_id="s1")
    journal.set_constraint("instance_group", "g", "pa", {"group_id": "g", "project_id": "pa", "recovery_time": 20})
    journal.set_constraint("instance", "vm-1", "pa", {"instance_id": "vm-1", "project_id": "pa", "lead_time": 30,
                                                      "group_id": "g"})
    noticed = time_.now()
    journal.notify_project("s1", "pa", "PLANNED_MAINTENANCE", ["vm-1", "vm-2", "vm-3"], ALL)
    time_.sleep(10)  # the project answered 10 s after its notice
    migrator = InstantMigrator(time_)
    actions = InstanceActions(None, journal, "s1", migrator, announce=lambda item: None, timeout=60, poll_interval=1,
                              list_servers=list, clock=lambda: 0.0, sleep=time_.sleep, now=time_.now)

    def work(server_id, wave, host):
        return InstanceWork(server_id, "pa", server_id, host, "ACTIVE", "LIVE_MIGRATE", "compute3", wave, "plan",
                            groups=["g"])

    first = [work("vm-1", 0, "compute1"), work("vm-3", 0, "compute1"), work("vm-2", 1, "compute1")]
    actions.run(first)
    started = dict(migrator.started)
    # Not before lead_time after the notice; the wave waits for its last instance.
    assert started["vm-1"] - noticed == timedelta(seconds=30) and started["vm-3"] == started["vm-1"]
    assert first[0].waited == {"seconds": 20.0, "why": "lead_time 30s after its project was told"}
    assert first[1].waited is None
    # The next member of g waits recovery_time after the last move of another member ended.
    assert started["vm-2"] - started["vm-3"] == timedelta(seconds=20)
    assert first[2].waited == {"seconds": 20.0, "why": "recovery_time 20s of group g after vm-3 moved"}
    # A later batch 5 s on: vm-2's own move does not hold it back, vm-3's (25 s ago) no longer does.
    time_.sleep(5)
    journal.notify_project("s1", "pa", "PLANNED_MAINTENANCE", ["vm-2", "vm-3"], ALL)
    again = [work("vm-2", 0, "compute3"), work("vm-3", 1, "compute3")]
    actions.run(again)
    assert again[0].waited is None and migrator.started[-2] == ("vm-2", started["vm-2"] + timedelta(seconds=5))
    # vm-3 is the next member after vm-2: 20 s after vm-2's move.
    assert again[1].waited == {"seconds": 20.0, "why": "recovery_time 20s of group g after vm-2 moved"}
    held = [(event["instance_id"], event["details"]["why"]) for event in journal.events("s1")
            if event["kind"] == "instance.held"]
    assert held == [("vm-1", "lead_time 30s after its project was told"),
                    ("vm-2", "recovery_time 20s of group g after vm-3 moved"),
                    ("vm-3", "recovery_time 20s of group g after vm-2 moved")]


def grouped_setup(tmp_path):
    """compute1: g1 and g2 of one group (waves 0 and 1, as max_impacted_members 1 splits them), f1-f3 free."""
    cloud = FakeCloud()
    cloud.settle_polls = 2
    vm = {name: cloud.add_server("compute1", project_id="pa") for name in ("g1", "g2", "f1", "f2", "f3")}
    path = str(tmp_path / "j.sqlite")
    journal = Journal(path)
    journal.create_session(["compute1"], session_id="s1")
    journal.set_session_state("s1", "PLANNED_MAINTENANCE")
    journal.notify_project("s1", "pa", "PLANNED_MAINTENANCE", sorted(vm.values()), ALL)
    journal.record_reply("s1", "pa", "ACK_PLANNED_MAINTENANCE")
    waves = [[dict(server_id=vm["g1"], to_host="compute2", kind="LIVE_MIGRATE", fenix_group_id="g")]
             + [dict(server_id=vm[name], to_host="compute2", kind="LIVE_MIGRATE") for name in ("f1", "f2", "f3")],
             [dict(server_id=vm["g2"], to_host="compute2", kind="LIVE_MIGRATE", fenix_group_id="g")]]
    return cloud, path, journal, vm, waves


def test_a_groups_next_member_moves_beside_the_free_servers_not_after_them(tmp_path):
    cloud, path, journal, vm, waves = grouped_setup(tmp_path)
    with WebhookServer() as hook:
        result = act(cloud, path, hook, waves=waves, concurrency=4, concurrency_per_host=2)
        assert not result["failed"], result["msg"]
    names = {server_id: name for name, server_id in vm.items()}
    moves = {names[move.instance_id]: move for move in journal.moves("s1")}
    assert sorted(move.state for move in moves.values()) == ["DONE"] * 5
    # g2 waits for g1 (one member of g at a time), then takes compute1's next slot before f2 and f3: it does not
    # wait until the whole first wave moved, as it did when waves ran one after the other.
    assert moves["g2"].started_at >= moves["g1"].ended_at
    assert moves["g2"].started_at < moves["f3"].ended_at
    assert [name for name, _move in sorted(moves.items(), key=lambda item: item[1].move_id)][:3] == ["g1", "f1", "g2"]


def test_when_a_groups_member_fails_its_next_member_stays_and_the_free_servers_move(tmp_path):
    from fakes import http_error
    cloud, path, journal, vm, waves = grouped_setup(tmp_path)
    original = cloud.compute.live_migrate_server

    def refuse_g1(server_id, **kwargs):
        if server_id == vm["g1"]:
            raise http_error(400, "Migration pre-check error: no room")
        return original(server_id, **kwargs)
    cloud.compute.live_migrate_server = refuse_g1
    with WebhookServer() as hook:
        result = act(cloud, path, hook, waves=waves, concurrency=4, concurrency_per_host=2, retries=0)
    assert result["failed"]
    assert "server %s of project pa (LIVE_MIGRATE): " % vm["g1"] in result["msg"] and "no room" in result["msg"]
    assert ("server %s of project pa (LIVE_MIGRATE): not started: server %s, which had to move before it, did not"
            " move" % (vm["g2"], vm["g1"])) in result["msg"]
    assert cloud.servers[vm["g2"]].compute_host == cloud.servers[vm["g1"]].compute_host == "compute1"
    assert all(cloud.servers[vm[name]].compute_host == "compute2" for name in ("f1", "f2", "f3"))
    assert vm["g2"] not in {move.instance_id for move in journal.moves("s1")}


def test_upgrade_begins_records_the_batchs_hosts_together_or_none(tmp_path, monkeypatch):
    cloud = FakeCloud(hosts=("compute1", "compute2", "compute3"))
    path = str(tmp_path / "j.sqlite")
    journal = Journal(path)
    journal.create_session(["compute1", "compute3"], session_id="s1")
    journal.set_session_state("s1", "PLANNED_MAINTENANCE")
    set_host = Journal.set_host

    def failing_for_compute3(self, session_id, host, *args, **kwargs):
        if host == "compute3" and kwargs.get("state") == "IN_MAINTENANCE":
            raise RuntimeError("the journal went away")
        return set_host(self, session_id, host, *args, **kwargs)
    monkeypatch.setattr(Journal, "set_host", failing_for_compute3)
    with WebhookServer() as hook:
        with pytest.raises(RuntimeError):
            act(cloud, path, hook, hosts=["compute1", "compute3"], wait_empty=True, empty_timeout=0,
                upgrade_begins=True)
    monkeypatch.setattr(Journal, "set_host", set_host)
    assert [(record.host, record.state) for record in journal.hosts("s1")] == [
        ("compute1", "PENDING"), ("compute3", "PENDING")]
    with WebhookServer() as hook:
        both = act(cloud, path, hook, hosts=["compute1", "compute3"], wait_empty=True, empty_timeout=0,
                   upgrade_begins=True)
    assert not both["failed"], both["msg"]
    assert {record.host: record.state for record in journal.hosts("s1")} == {
        "compute1": "IN_MAINTENANCE", "compute3": "IN_MAINTENANCE"}
