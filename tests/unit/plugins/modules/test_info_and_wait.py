from ansible_collections.fenix.maintenance.plugins.modules.compute_host_info import ComputeHostInfoModule
from ansible_collections.fenix.maintenance.plugins.modules.host_wait_empty import HostWaitEmptyModule
from fakes import FakeCloud
from module_runner import run_module


def test_info_reports_hosts_and_is_read_only():
    cloud = FakeCloud()
    cloud.add_server("compute2", project_id="p2", name="db")
    result = run_module(ComputeHostInfoModule, {"hosts": ["compute2"]}, cloud, check_mode=True)
    assert result["changed"] is False
    host = result["hosts"][0]
    assert host["host"] == "compute2" and host["server_count"] == 1
    assert host["projects"][0]["project_name"] == "tenant-b"
    assert host["projects"][0]["servers"][0]["name"] == "db"
    assert host["resources"]["VCPU"]["free"] == 7


def test_info_without_servers_or_resources_saves_requests():
    cloud = FakeCloud()
    result = run_module(ComputeHostInfoModule, {"servers": False, "resources": False}, cloud)
    assert [h["server_count"] for h in result["hosts"]] == [0, 0, 0]
    assert cloud.calls["placement.get"] == 0 and cloud.calls["compute.servers"] == 0


def test_wait_empty_fails_naming_what_is_left():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="web-1", project_id="p1")
    result = run_module(HostWaitEmptyModule, {"host": "compute1", "timeout": 0, "poll_interval": 1}, cloud)
    assert result["failed"] and "web-1" in result["msg"] and result["remaining"][0]["name"] == "web-1"


def test_wait_empty_check_mode_reads_once_without_failing():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="web-1")
    result = run_module(HostWaitEmptyModule, {"host": "compute1"}, cloud, check_mode=True)
    assert not result["failed"] and result["empty"] is False
    # One read of the host: one server list and one read of its Placement allocations.
    assert cloud.calls["compute.servers"] == 1 and cloud.calls["placement.get"] == 1


def test_wait_empty_on_empty_host():
    result = run_module(HostWaitEmptyModule, {"host": "compute3"}, FakeCloud())
    assert result["empty"] is True and result["remaining"] == []
