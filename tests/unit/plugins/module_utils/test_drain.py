import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.drain import (
    DEFAULT_POLICY,
    HostNotEmpty,
    plan_drain,
    wait_host_empty,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import ServerView
from fakes import FakeCloud


def view(status, task_state=None, name="s"):
    return ServerView(id=name, name=name, project_id="p1", status=status, task_state=task_state,
                      host="compute1", host_id="h", flavor={})


def test_default_policy_moves_by_status():
    plan = plan_drain([view("ACTIVE", name="a"), view("PAUSED", name="p"), view("SHUTOFF", name="s")], DEFAULT_POLICY)
    assert [(m.server_id, m.kind) for m in plan.moves] == [("a", "live"), ("p", "live"), ("s", "cold")]
    assert plan.blockers == [] and plan.skipped == []


def test_unmovable_status_blocks_with_the_fix():
    plan = plan_drain([view("ERROR", name="e")], DEFAULT_POLICY)
    assert plan.moves == []
    assert plan.blockers[0]["id"] == "e"
    assert "server_policy.other to skip" in plan.blockers[0]["reason"]


def test_skip_policy_and_busy_server():
    policy = dict(DEFAULT_POLICY, shutoff="skip", active="cold")
    plan = plan_drain([view("SHUTOFF", name="s"), view("ACTIVE", name="a"), view("ACTIVE", "migrating", name="b")], policy)
    assert [s["id"] for s in plan.skipped] == ["s"]
    assert [(m.server_id, m.kind) for m in plan.moves] == [("a", "cold")]
    assert plan.blockers[0]["id"] == "b" and "busy" in plan.blockers[0]["reason"]


def test_wait_empty_returns_when_empty():
    cloud = FakeCloud()
    assert wait_host_empty(cloud, "compute1", timeout=10, sleep=lambda s: None).empty


def test_wait_empty_timeout_names_servers_and_projects():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="web-1", project_id="tenant-a")
    cloud.allocations["compute1"]["migration-x"] = {"resources": {"VCPU": 1}}
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    with pytest.raises(HostNotEmpty) as error:
        wait_host_empty(cloud, "compute1", timeout=10, poll_interval=5, clock=lambda: now[0], sleep=sleep)
    message = str(error.value)
    assert "web-1" in message and "tenant-a" in message and "ACTIVE" in message
    assert "migration-x" in message
    assert now[0] == 10


def test_anti_affinity_members_and_large_flavors_move_first():
    small = view("ACTIVE", name="a-small")
    small.flavor = {"vcpus": 1, "ram": 256}
    large = view("ACTIVE", name="b-large")
    large.flavor = {"vcpus": 4, "ram": 4096}
    member = view("ACTIVE", name="c-member")
    member.flavor = {"vcpus": 1, "ram": 256}
    member.server_group = {"id": "g", "name": "aa", "policy": "anti-affinity"}
    plan = plan_drain([small, large, member], DEFAULT_POLICY)
    assert [m.server_id for m in plan.moves] == ["c-member", "b-large", "a-small"]
