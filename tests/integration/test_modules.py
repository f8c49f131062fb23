"""Each module against the real test cloud; effects checked with our own SDK queries."""

from __future__ import annotations

import datetime
import glob
import json
import os
import stat

import pytest

from conftest import compute_service, servers_on

pytestmark = pytest.mark.usefixtures("enabled_hosts")

M = "fenix.maintenance."


def busiest_host(admin) -> str:
    counts = {}
    for service in admin.compute.services(binary="nova-compute"):
        counts[service.host] = len(servers_on(admin, service.host))
    return max(sorted(counts), key=lambda host: counts[host])


def anti_affinity_hosts(admin) -> dict:
    """Server group name -> hosts of its members (each must appear once)."""
    groups = {}
    for group in admin.compute.server_groups(all_projects=True):
        if (group.policy or (group.policies or [None])[0]) == "anti-affinity":
            groups[group.name] = [admin.compute.get_server(member).compute_host for member in group.member_ids]
    return groups


def test_compute_service_disable_enable(admin, playbook):
    host = "compute4"
    check, = playbook.run({M + "compute_service": {"host": host, "reason": "integration"}}, check=True, diff=True)
    assert check["changed"] is True
    assert check["diff"]["after"]["status"] == "disabled"
    assert compute_service(admin, host).status == "enabled", "check mode must change nothing"

    first, second = playbook.run(
        {M + "compute_service": {"host": host, "reason": "integration"}},
        {M + "compute_service": {"host": host, "reason": "integration"}},
    )
    assert first["changed"] is True and second["changed"] is False
    service = compute_service(admin, host)
    assert service.status == "disabled"
    assert service.disabled_reason == "fenix.maintenance: integration"

    enabled, again = playbook.run(
        {M + "compute_service": {"host": host, "state": "enabled"}},
        {M + "compute_service": {"host": host, "state": "enabled"}},
    )
    assert enabled["changed"] is True and again["changed"] is False
    assert compute_service(admin, host).status == "enabled"


def test_compute_service_leaves_a_foreign_disable_alone(admin, playbook):
    host = "compute3"
    admin.compute.disable_service(compute_service(admin, host), disabled_reason="RMA 1234")
    disable, enable = playbook.run(
        {M + "compute_service": {"host": host}},
        {M + "compute_service": {"host": host, "state": "enabled"}},
    )
    assert disable["changed"] is False and disable["owned_by_other"] is True
    assert enable.get("failed") is True and "force: true" in enable["msg"]
    service = compute_service(admin, host)
    assert (service.status, service.disabled_reason) == ("disabled", "RMA 1234")

    bad, = playbook.run({M + "compute_service": {"host": "no-such-host"}})
    assert bad.get("failed") is True and "no-such-host" in bad["msg"]


def test_compute_host_info_matches_nova(admin, playbook):
    result, = playbook.run({M + "compute_host_info": {}})
    by_host = {entry["host"]: entry for entry in result["hosts"]}
    services = {s.host: s for s in admin.compute.services(binary="nova-compute")}
    assert sorted(by_host) == sorted(services)
    for host, entry in by_host.items():
        expected = sorted(server.id for server in servers_on(admin, host))
        got = sorted(server["id"] for project in entry["projects"] for server in project["servers"])
        assert got == expected, host
        assert entry["server_count"] == len(expected)
        assert entry["service"]["status"] == services[host].status
        assert entry["resources"]["VCPU"]["used"] == sum(
            server["flavor"]["vcpus"] for project in entry["projects"] for server in project["servers"]
        )
        assert all(project["project_name"] for project in entry["projects"])
    grouped = [server for entry in by_host.values() for project in entry["projects"]
               for server in project["servers"] if server["server_group"]]
    assert any(server["server_group"]["policy"] == "anti-affinity" for server in grouped)


def kept_token(directory: str) -> dict:
    """The one token file of the test cloud's admin credentials in ``directory`` (the state keystoneauth wrote)."""
    files = glob.glob(os.path.join(directory, "token-*.json"))
    assert len(files) == 1, files
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    with open(files[0]) as handle:
        return dict(json.load(handle), path=files[0])


def test_module_runs_share_one_token_through_token_cache(playbook, tmp_path):
    directory = str(tmp_path / "tokens")
    info = {M + "compute_host_info": {"token_cache": directory}}
    first, = playbook.run(info)
    assert first.get("failed") is not True, first.get("msg")
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    token = kept_token(directory)

    second, = playbook.run(info)
    assert second.get("failed") is not True, second.get("msg")
    assert kept_token(directory)["auth_token"] == token["auth_token"], "the second run authenticated again"

    # A token the cloud refuses (here: one it never issued) is replaced by a new one, and the run goes on.
    with open(token["path"], "w") as handle:
        json.dump({"auth_token": "refused-" + token["auth_token"][8:], "body": token["body"]}, handle)
    refused, = playbook.run(info)
    assert refused.get("failed") is not True, refused.get("msg")
    replaced = kept_token(directory)["auth_token"]
    assert not replaced.startswith("refused-") and replaced != token["auth_token"]

    # So is it for a module whose first requests are sent together (the plan of a batch: five reads of the
    # cloud): the requests refused while another renewed the token are sent again.
    with open(token["path"], "w") as handle:
        json.dump({"auth_token": "refused-" + replaced[8:], "body": token["body"]}, handle)
    plan, = playbook.run({M + "maintenance_plan": {"token_cache": directory, "journal": str(tmp_path / "none"),
                                                   "batch": ["compute1"]}})
    # The batch may be blocked by what earlier tests left on the cloud (its plan then fails naming the servers),
    # but the module read the cloud and planned: a refused token fails it before it has a plan.
    assert "plan" in plan and "401" not in plan.get("msg", ""), plan.get("msg")
    replaced = kept_token(directory)["auth_token"]
    assert not replaced.startswith("refused-")

    # A token about to expire is not used at all: the run authenticates first.
    body = kept_token(directory)["body"]
    body["token"]["expires_at"] = (datetime.datetime.now(datetime.timezone.utc)
                                   + datetime.timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    with open(token["path"], "w") as handle:
        json.dump({"auth_token": replaced, "body": body}, handle)
    expiring, = playbook.run(info)
    assert expiring.get("failed") is not True, expiring.get("msg")
    assert kept_token(directory)["auth_token"] not in (replaced, token["auth_token"])


def test_server_migrate_live_and_cold(admin, playbook):
    servers = list(admin.compute.servers(details=True, all_projects=True))
    grouped = {member for group in admin.compute.server_groups(all_projects=True) for member in group.member_ids}
    active = next(s for s in servers if s.status == "ACTIVE" and s.id not in grouped)
    stopped = next(s for s in servers if s.status == "SHUTOFF")
    live = {"servers": [active.id], "from_host": active.compute_host}
    cold = {"servers": [stopped.name], "from_host": stopped.compute_host, "kind": "cold"}

    check, = playbook.run({M + "server_migrate": live}, check=True)
    assert check["changed"] is True and check["servers"][0]["status"] == "would_migrate"
    assert admin.compute.get_server(active.id).compute_host == active.compute_host

    moved, moved_cold, again = playbook.run(
        {M + "server_migrate": live},
        {M + "server_migrate": cold},
        {M + "server_migrate": live},
    )
    assert moved["changed"] is True and again["changed"] is False
    after = admin.compute.get_server(active.id)
    assert after.status == "ACTIVE" and after.compute_host != active.compute_host
    assert moved["servers"][0]["destination"] == after.compute_host
    assert moved["servers"][0]["duration"] > 0

    assert moved_cold["changed"] is True, moved_cold
    after_cold = admin.compute.get_server(stopped.id)
    assert after_cold.status == "SHUTOFF" and after_cold.compute_host != stopped.compute_host
    assert moved_cold["servers"][0]["kind"] == "cold"


def test_server_migrate_to_a_disabled_host_fails_clearly(admin, playbook):
    servers = list(admin.compute.servers(details=True, all_projects=True))
    grouped = {member for group in admin.compute.server_groups(all_projects=True) for member in group.member_ids}
    active = next(s for s in servers if s.status == "ACTIVE" and s.id not in grouped)
    target = next(s.host for s in admin.compute.services(binary="nova-compute") if s.host != active.compute_host)
    admin.compute.disable_service(compute_service(admin, target), disabled_reason="test")
    result, = playbook.run({M + "server_migrate": {
        "servers": [active.id], "target_host": target, "retries": 1, "retry_delay": 1}})
    assert result.get("failed") is True
    assert result["failed_servers"] == [active.id]
    assert result["servers"][0]["attempts"] == 2, "no valid host is retried once"
    assert admin.compute.get_server(active.id).compute_host == active.compute_host


def test_drain_and_wait_empty(admin, playbook):
    host = busiest_host(admin)
    before = {server.id: server.status for server in servers_on(admin, host)}
    assert before, "the seed puts servers on every host"

    check, = playbook.run({M + "compute_host_drain": {"host": host, "reason": "drain test"}}, check=True, diff=True)
    assert check["changed"] is True
    assert sorted(m["server_id"] for m in check["moved"]) == sorted(before)
    assert compute_service(admin, host).status == "enabled"
    assert sorted(s.id for s in servers_on(admin, host)) == sorted(before)

    drained, again, empty = playbook.run(
        {M + "compute_host_drain": {"host": host, "reason": "drain test", "concurrency": 4}},
        {M + "compute_host_drain": {"host": host, "reason": "drain test"}},
        {M + "host_wait_empty": {"host": host, "timeout": 30}},
    )
    assert drained["changed"] is True and drained["empty"] is True, drained.get("msg")
    assert again["changed"] is False
    assert empty["empty"] is True and empty["remaining"] == []
    service = compute_service(admin, host)
    assert (service.status, service.disabled_reason) == ("disabled", "fenix.maintenance: drain test")
    assert servers_on(admin, host) == []
    for server_id, status in before.items():
        server = admin.compute.get_server(server_id)
        assert server.status == status and server.compute_host != host
    for name, hosts in anti_affinity_hosts(admin).items():
        assert len(hosts) == len(set(hosts)), "anti-affinity group %s shares a host: %s" % (name, hosts)


def test_wait_empty_names_what_is_left(admin, playbook):
    host = busiest_host(admin)
    left = {server.name for server in servers_on(admin, host)}
    result, = playbook.run({M + "host_wait_empty": {"host": host, "timeout": 2, "poll_interval": 1}})
    assert result.get("failed") is True
    assert {item["name"] for item in result["remaining"]} == left
    assert all(name in result["msg"] for name in left)


def test_compute_service_forced_down(admin, playbook):
    host = "compute2"
    down, = playbook.run({M + "compute_service": {"host": host, "reason": "fencing test", "forced_down": True}})
    assert down["changed"] is True and down["previous"]["forced_down"] is False
    service = compute_service(admin, host)
    assert (service.status, service.is_forced_down) == ("disabled", True)

    up, = playbook.run({M + "compute_service": {"host": host, "state": "enabled", "forced_down": False}})
    assert up["changed"] is True and up["service"]["forced_down"] is False
    service = compute_service(admin, host)
    assert (service.status, service.is_forced_down) == ("enabled", False)


# Read by the test cloud's fake driver (cloud/fenix_fake_driver.py): the server's live migrations last this long.
SLOW_MIGRATION = "fenix_test_live_migration_seconds"


def newest_live_migration(admin, server_id):
    records = [record for record in admin.compute.migrations(server_id=server_id)
               if record.migration_type == "live-migration"]
    return max(records, key=lambda record: record.created_at)


def test_stuck_live_migration_is_aborted_or_forced(admin, playbook):
    """A live migration that hangs is aborted (back on its source), then forced (on its target), as on_timeout says."""
    servers = list(admin.compute.servers(details=True, all_projects=True))
    grouped = {member for group in admin.compute.server_groups(all_projects=True) for member in group.member_ids}
    server = next(s for s in servers if s.status == "ACTIVE" and s.id not in grouped)
    source = server.compute_host
    stuck = {"servers": [server.id], "from_host": source, "poll_interval": 1, "retries": 0}
    admin.compute.set_server_metadata(server, **{SLOW_MIGRATION: "120"})
    try:
        aborted, = playbook.run({M + "server_migrate": dict(stuck, timeout=15, on_timeout="abort")})
        entry = aborted["servers"][0]
        assert entry["timeout_action"] == "aborted", (
            "the migration did not hang (%s): restart the test cloud (cloudctl stop; cloudctl start) so that its"
            " computes load the fake driver that reads %s" % (entry, SLOW_MIGRATION))
        assert aborted.get("failed") is True and aborted["failed_servers"] == [server.id]
        assert entry["server_state"] == {"status": "ACTIVE", "task_state": None, "host": source}
        # Progress from Nova's migration record, as the fake driver saves it (fenix.tiny has 256 MiB).
        line = entry["progress"][0]
        assert line["migration_status"] == "running" and line["memory_total_bytes"] == 256 * 1024 * 1024
        assert 0 < line["memory_remaining_bytes"] < line["memory_total_bytes"]
        after = admin.compute.get_server(server.id)
        assert (after.status, after.task_state, after.compute_host) == ("ACTIVE", None, source)
        assert newest_live_migration(admin, server.id).status == "cancelled"

        forced, = playbook.run({M + "server_migrate": dict(stuck, timeout=8, on_timeout="force_complete")})
        entry = forced["servers"][0]
        assert not forced.get("failed"), forced.get("msg")
        assert (forced["changed"], entry["status"], entry["timeout_action"]) == (True, "migrated", "forced")
        after = admin.compute.get_server(server.id)
        assert (after.status, after.task_state) == ("ACTIVE", None)
        assert after.compute_host == entry["destination"] != source
        assert newest_live_migration(admin, server.id).status == "completed"
        assert list(admin.compute.server_migrations(server.id)) == [], "nothing left in progress"
    finally:
        admin.compute.delete_server_metadata(server, [SLOW_MIGRATION])
