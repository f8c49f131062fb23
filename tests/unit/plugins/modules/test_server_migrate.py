from ansible_collections.fenix.maintenance.plugins.modules.server_migrate import ServerMigrateModule
from fakes import FakeCloud, http_error
from module_runner import run_module

FAST = dict(poll_interval=0, retry_delay=0)


def run(cloud, check_mode=False, diff=False, **args):
    return run_module(ServerMigrateModule, dict(FAST, **args), cloud, check_mode=check_mode, diff=diff)


def test_check_mode_moves_nothing():
    cloud = FakeCloud()
    server = cloud.add_server("compute1", name="web-1")
    result = run(cloud, check_mode=True, diff=True, servers=["web-1"], from_host="compute1")
    assert result["changed"] is True and result["servers"][0]["status"] == "would_migrate"
    assert result["diff"]["before"] == {server: "compute1"}
    assert cloud.servers[server].compute_host == "compute1"
    assert cloud.calls["compute.live_migrate_server"] == 0


def test_migrate_then_second_run_with_from_host_is_unchanged():
    cloud = FakeCloud()
    server = cloud.add_server("compute1", name="web-1")
    first = run(cloud, servers=["web-1"], from_host="compute1", target_host="compute3")
    assert first["changed"] is True
    assert first["servers"][0]["destination"] == "compute3"
    assert cloud.servers[server].compute_host == "compute3"
    second = run(cloud, servers=["web-1"], from_host="compute1", target_host="compute3")
    assert second["changed"] is False and second["servers"][0]["status"] == "skipped"


def test_failure_lists_failed_servers():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="web-1")
    cloud.refusals = [http_error(400, "host compute9 is not up")]
    result = run(cloud, servers=["web-1"], retries=0)
    assert result["failed"] and "web-1" in result["msg"] and "compute9" in result["msg"]
    assert len(result["failed_servers"]) == 1


def test_bad_input_is_refused_before_anything_moves():
    cloud = FakeCloud()
    server = cloud.add_server("compute1", name="web-1")
    assert run(cloud, servers=["nope"])["msg"] == "servers: no server named or with ID nope"
    assert run(cloud, servers=["web-1"], concurrency=0)["msg"].startswith("concurrency:")
    assert run(cloud, servers=["web-1"], target_host="compute1", from_host="compute1")["msg"].startswith("target_host:")
    assert cloud.servers[server].compute_host == "compute1"


def test_wrong_kind_for_the_status_is_refused_before_anything_moves():
    cloud = FakeCloud()
    stopped = cloud.add_server("compute1", name="db", status="SHUTOFF")
    running = cloud.add_server("compute1", name="web")
    result = run(cloud, servers=["db", "web"])
    assert result["failed"] and result["msg"].startswith("kind:")
    assert "db" in result["msg"] and "SHUTOFF server cannot be live migrated" in result["msg"]
    assert cloud.calls["compute.live_migrate_server"] == 0
    assert cloud.servers[running].compute_host == cloud.servers[stopped].compute_host == "compute1"


def test_a_stuck_live_migration_is_forced_or_aborted_as_asked():
    cloud = FakeCloud(settle_polls=10 ** 6)  # no live migration ends by itself
    forced = cloud.add_server("compute1", name="web-1")
    aborted = cloud.add_server("compute1", name="web-2")
    stuck = dict(timeout=1, poll_interval=0.05, retries=0)
    result = run(cloud, servers=["web-1"], on_timeout="force_complete", **stuck)
    assert not result["failed"] and result["changed"] is True
    entry, = result["servers"]
    assert (entry["status"], entry["timeout_action"], entry["destination"]) == ("migrated", "forced", "compute2")
    assert entry["server_state"] == {"status": "ACTIVE", "task_state": None, "host": "compute2"}
    assert cloud.servers[forced].compute_host == "compute2"

    result = run(cloud, servers=["web-2"], **stuck)  # on_timeout: abort by default
    assert result["failed"] and result["failed_servers"] == [aborted]
    assert "web-2: timed out after 1s waiting for the live migration" in result["msg"]
    assert "on_timeout: abort: aborted migration 2 (running); the server is ACTIVE on compute1, its source" in result["msg"]
    assert result["servers"][0]["timeout_action"] == "aborted"
    assert cloud.servers[aborted].compute_host == "compute1" and cloud.servers[aborted].status == "ACTIVE"
    assert cloud.calls["compute.force_complete_server_migration"] == cloud.calls["compute.abort_server_migration"] == 1


def test_on_timeout_takes_only_what_nova_can_do():
    cloud = FakeCloud()
    server = cloud.add_server("compute1", name="web-1")
    result = run(cloud, servers=["web-1"], on_timeout="wait_longer")
    assert result["failed"] and "on_timeout" in result["msg"] and "abort, force_complete" in result["msg"]
    assert cloud.servers[server].compute_host == "compute1" and cloud.calls["compute.live_migrate_server"] == 0


def test_several_at_a_time_are_polled_per_host_within_their_limits():
    cloud = FakeCloud(hosts=("compute1", "compute2", "compute3"), settle_polls=2)
    names = ["web-%d" % index for index in range(6)]
    for index, name in enumerate(names):
        cloud.add_server(("compute1", "compute2")[index % 2], name=name)
    result = run(cloud, servers=names, target_host="compute3", concurrency=4, concurrency_per_host=1,
                 concurrency_per_target=2)
    assert not result["failed"], result["msg"]
    assert [item["destination"] for item in result["servers"]] == ["compute3"] * 6
    # find_server found them; after that no server was read alone, the hosts were listed instead.
    assert cloud.calls["compute.get_server"] == 0 and cloud.calls["compute.servers"] > 0


def test_per_host_and_per_target_limits_must_be_at_least_one():
    cloud = FakeCloud()
    cloud.add_server("compute1", name="web-1")
    assert run(cloud, servers=["web-1"], concurrency_per_host=0)["msg"] == (
        "concurrency_per_host: must be at least 1, got 0")
    assert run(cloud, servers=["web-1"], concurrency_per_target=0)["msg"] == (
        "concurrency_per_target: must be at least 1, got 0")
    assert cloud.calls["compute.live_migrate_server"] == 0
