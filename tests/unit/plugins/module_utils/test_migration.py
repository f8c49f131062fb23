import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (
    COLD,
    LIVE,
    MigrationRequest,
    MigrationSettings,
    Migrator,
    is_transient_refusal,
)
from fakes import FakeCloud, http_error


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def migrator(cloud, clock, **settings):
    defaults = dict(timeout=60, poll_interval=1, retries=2, retry_delay=3)
    defaults.update(settings)
    return Migrator(cloud, MigrationSettings(**defaults), clock=clock, sleep=clock.sleep)


def test_live_migration_moves_and_reports():
    cloud, clock = FakeCloud(settle_polls=2), Clock()
    server = cloud.add_server("compute1")
    outcome = migrator(cloud, clock).migrate(MigrationRequest(server, LIVE))
    assert (outcome.status, outcome.source, outcome.destination, outcome.attempts) == ("migrated", "compute1", "compute2", 1)
    assert cloud.servers[server].compute_host == "compute2"
    assert cloud.servers[server].status == "ACTIVE"
    assert outcome.duration == 2.0  # two poll intervals of the fake clock


def test_cold_migration_is_confirmed_and_keeps_shutoff():
    cloud, clock = FakeCloud(), Clock()
    server = cloud.add_server("compute1", status="SHUTOFF")
    outcome = migrator(cloud, clock).migrate(MigrationRequest(server, COLD, target_host="compute3"))
    assert outcome.status == "migrated" and outcome.destination == "compute3"
    assert cloud.calls["compute.confirm_server_resize"] == 1
    assert cloud.servers[server].status == "SHUTOFF"
    assert cloud.allocations["compute1"] == {}


def test_cold_migration_without_confirm_stays_in_verify_resize():
    cloud, clock = FakeCloud(), Clock()
    server = cloud.add_server("compute1")
    outcome = migrator(cloud, clock, confirm=False).migrate(MigrationRequest(server, COLD))
    assert outcome.status == "migrated"
    assert cloud.servers[server].status == "VERIFY_RESIZE"
    assert cloud.calls["compute.confirm_server_resize"] == 0


def test_transient_refusals_are_retried_with_backoff():
    cloud, clock = FakeCloud(), Clock()
    server = cloud.add_server("compute1")
    cloud.refusals = [http_error(409, "task_state migrating"), http_error(400, "No valid host was found.")]
    outcome = migrator(cloud, clock).migrate(MigrationRequest(server, LIVE))
    assert outcome.status == "migrated" and outcome.attempts == 3
    assert clock.sleeps[:2] == [3, 6]


def test_retries_are_bounded():
    cloud, clock = FakeCloud(), Clock()
    server = cloud.add_server("compute1")
    cloud.refusals = [http_error(409, "busy")] * 5
    outcome = migrator(cloud, clock, retries=2).migrate(MigrationRequest(server, LIVE))
    assert outcome.status == "failed" and outcome.attempts == 3
    assert "busy" in outcome.error
    assert cloud.servers[server].compute_host == "compute1"


def test_permanent_refusal_is_not_retried():
    cloud, clock = FakeCloud(), Clock()
    server = cloud.add_server("compute1")
    cloud.refusals = [http_error(400, "Migration pre-check error: not shared storage")]
    outcome = migrator(cloud, clock).migrate(MigrationRequest(server, LIVE))
    assert outcome.status == "failed" and outcome.attempts == 1
    assert "pre-check" in outcome.error


def test_cold_migration_error_record_is_detected_and_retried():
    cloud, clock = FakeCloud(), Clock()
    server = cloud.add_server("compute1")
    cloud.cold_failures = 1
    outcome = migrator(cloud, clock).migrate(MigrationRequest(server, COLD))
    assert outcome.status == "migrated" and outcome.attempts == 2
    assert cloud.calls["compute.migrations"] == 1


def test_cold_migration_error_reported_when_retries_run_out():
    cloud, clock = FakeCloud(), Clock()
    server = cloud.add_server("compute1")
    cloud.cold_failures = 3
    outcome = migrator(cloud, clock, retries=1).migrate(MigrationRequest(server, COLD))
    assert outcome.status == "failed"
    assert "still on compute1" in outcome.error and "error" in outcome.error


def test_timeout_names_the_state():
    cloud, clock = FakeCloud(settle_polls=1000), Clock()
    server = cloud.add_server("compute1")
    outcome = migrator(cloud, clock, timeout=5, retries=0).migrate(MigrationRequest(server, LIVE))
    assert outcome.status == "failed"
    assert "timed out after 5s" in outcome.error and "MIGRATING" in outcome.error


def test_no_wait_returns_after_the_request():
    cloud, clock = FakeCloud(settle_polls=1000), Clock()
    server = cloud.add_server("compute1")
    outcome = migrator(cloud, clock, wait=False).migrate(MigrationRequest(server, LIVE))
    assert outcome.status == "requested" and outcome.destination is None


def test_concurrent_list_keeps_order():
    cloud, clock = FakeCloud(), Clock()
    servers = [cloud.add_server("compute1") for _index in range(6)]
    outcomes = migrator(cloud, clock, concurrency=3).migrate_all([MigrationRequest(s, LIVE) for s in servers])
    assert [o.server_id for o in outcomes] == servers
    assert all(o.status == "migrated" for o in outcomes)


@pytest.mark.parametrize("code,message,transient", [
    (409, "Cannot 'os-migrateLive' instance while it is in task_state migrating", True),
    (409, "Cannot 'os-migrateLive' instance while it is in vm_state stopped", False),
    (409, "Cannot 'os-migrateLive' instance while it is in power_state pending", False),
    (400, "No valid host was found. There are not enough hosts", True),
    (400, "Instance has a PCI device", False),
    (403, "Policy doesn't allow", False),
])
def test_transient_refusal_classification(code, message, transient):
    assert is_transient_refusal(code, message) is transient


def test_unexpected_error_of_one_server_does_not_stop_the_others():
    cloud, clock = FakeCloud(), Clock()
    first, second = cloud.add_server("compute1"), cloud.add_server("compute1")
    original = cloud.compute.live_migrate_server

    def broken_for_first(server_id, **kwargs):
        if server_id == first:
            raise ConnectionError("connection reset by peer")
        return original(server_id, **kwargs)

    cloud.compute.live_migrate_server = broken_for_first
    outcomes = migrator(cloud, clock, concurrency=2).migrate_all([MigrationRequest(first), MigrationRequest(second)])
    assert (outcomes[0].status, outcomes[1].status) == ("failed", "migrated")
    assert "ConnectionError: connection reset by peer" == outcomes[0].error
