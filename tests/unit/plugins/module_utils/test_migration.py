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

MIB = 1024 * 1024


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


# Stuck migrations: a live migration past its timeout is forced or aborted, a cold one reported.

def stuck(status="ACTIVE", **cloud_settings):
    """A cloud whose migrations never end by themselves, and one server on compute1."""
    cloud = FakeCloud(settle_polls=10 ** 6)
    for name, value in cloud_settings.items():
        setattr(cloud, name, value)
    return cloud, cloud.add_server("compute1", status=status)


def run_stuck(cloud, server, kind=LIVE, **settings):
    clock, events = Clock(), []
    defaults = dict(timeout=25, retries=2)
    defaults.update(settings)
    outcome = migrator(cloud, clock, **defaults).migrate(
        MigrationRequest(server, kind), events=lambda done, name, details: events.append((name, details)))
    return outcome, events


def test_stuck_live_migration_is_aborted_and_the_server_is_back_on_its_source():
    cloud, server = stuck()
    outcome, events = run_stuck(cloud, server)  # on_timeout defaults to abort
    assert (outcome.status, outcome.timeout_action, outcome.attempts) == ("failed", "aborted", 1), "no retry"
    assert outcome.destination is None
    assert outcome.error == (
        "timed out after 25s waiting for the live migration (status MIGRATING, task migrating, on compute1);"
        " on_timeout: abort: aborted migration 1 (running); the server is ACTIVE on compute1, its source;"
        " migration 1 is now cancelled")
    assert outcome.server_state == {"status": "ACTIVE", "task_state": None, "host": "compute1"}
    assert (cloud.servers[server].compute_host, cloud.servers[server].status) == ("compute1", "ACTIVE")
    assert cloud.calls["compute.abort_server_migration"] == 1
    assert cloud.calls["compute.force_complete_server_migration"] == 0
    timeout, = [details for name, details in events if name == "instance.migration_timeout"]
    assert timeout == {"kind": "live", "timeout": 25, "on_timeout": "abort", "action": "aborted",
                       "server": outcome.server_state, "note": outcome.error.split("; ", 1)[1]}


def test_stuck_live_migration_is_forced_onto_its_target():
    cloud, server = stuck()
    outcome, events = run_stuck(cloud, server, on_timeout="force_complete")
    assert (outcome.status, outcome.timeout_action, outcome.error) == ("migrated", "forced", None)
    assert outcome.destination == "compute2" == cloud.servers[server].compute_host
    assert cloud.servers[server].status == "ACTIVE"
    assert outcome.server_state == {"status": "ACTIVE", "task_state": None, "host": "compute2"}
    assert cloud.calls["compute.force_complete_server_migration"] == 1
    assert cloud.calls["compute.abort_server_migration"] == 0
    timeout, = [details for name, details in events if name == "instance.migration_timeout"]
    assert timeout["action"] == "forced"
    assert timeout["note"] == ("on_timeout: force_complete: forced migration 1 (running); the server is ACTIVE on"
                               " compute2; migration 1 is now completed")


def test_a_queued_migration_cannot_be_forced_so_it_is_aborted():
    cloud, server = stuck(live_status="queued")
    outcome, _events = run_stuck(cloud, server, on_timeout="force_complete")
    assert (outcome.status, outcome.timeout_action) == ("failed", "aborted")
    assert ("on_timeout: force_complete: aborted migration 1 (queued), as Nova forces only a running migration;"
            " the server is ACTIVE on compute1, its source") in outcome.error
    assert cloud.calls["compute.force_complete_server_migration"] == 0
    assert cloud.calls["compute.abort_server_migration"] == 1


def test_aborting_a_queued_migration_names_the_microversion_a_cloud_lacks():
    cloud, server = stuck(live_status="queued")
    cloud.api_versions["compute"] = ("2.1", "2.60")
    outcome, _events = run_stuck(cloud, server)
    assert (outcome.status, outcome.timeout_action) == ("failed", "reported")
    assert ("cannot abort migration 1 (queued): compute API: this collection needs microversion 2.65 (aborting a"
            " live migration that is queued or preparing; Nova of OpenStack Rocky or later); the cloud offers 2.1"
            " to 2.60; it was left running: the server is MIGRATING on compute1 (task migrating, not settled),"
            " its source") in outcome.error
    assert cloud.calls["compute.abort_server_migration"] == 0
    assert outcome.server_state == {"status": "MIGRATING", "task_state": "migrating", "host": "compute1"}


def test_forcing_on_a_cloud_before_2_22_names_it_and_progress_says_why_it_is_missing():
    cloud, server = stuck()
    cloud.api_versions["compute"] = ("2.1", "2.21")
    outcome, _events = run_stuck(cloud, server, on_timeout="force_complete")
    assert outcome.timeout_action == "reported"
    assert ("cannot force complete migration 1 (running): compute API: this collection needs microversion 2.22"
            " (forcing a live migration to complete; Nova of OpenStack Mitaka or later); the cloud offers 2.1 to"
            " 2.21") in outcome.error
    assert cloud.calls["compute.force_complete_server_migration"] == 0
    # One line says why there is no progress, and nothing more is read.
    assert outcome.progress == [{"elapsed": 10.0, "unavailable": (
        "compute API: this collection needs microversion 2.23 (the progress of a live migration; Nova of OpenStack"
        " Mitaka or later); the cloud offers 2.1 to 2.21")}]


def test_cold_migration_past_its_timeout_is_reported_with_the_server_state():
    cloud, server = stuck(status="SHUTOFF")
    outcome, events = run_stuck(cloud, server, kind=COLD)
    assert (outcome.status, outcome.timeout_action, outcome.attempts) == ("failed", "reported", 1)
    assert outcome.server_state == {"status": "SHUTOFF", "task_state": "resize_prep", "host": "compute1"}
    assert outcome.error == (
        "timed out after 25s waiting for the cold migration (status SHUTOFF, task resize_prep, on compute1);"
        " Nova cannot abort a cold migration, it was left running: the server is SHUTOFF on compute1 (task"
        " resize_prep, not settled), its source; migration 1 is now migrating; see `openstack server migration"
        " list --server %s`" % server)
    assert outcome.progress == [] and cloud.calls["compute.server_migrations"] == 0
    assert [name for name, _details in events] == ["instance.migration_timeout"]
    assert cloud.calls["compute.abort_server_migration"] == cloud.calls["compute.force_complete_server_migration"] == 0


def test_progress_is_read_at_most_once_per_interval_and_logged():
    cloud, server = stuck()
    outcome, events = run_stuck(cloud, server, timeout=55, poll_interval=1, progress_interval=10)
    assert [line["elapsed"] for line in outcome.progress] == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert [line["memory_remaining_percent"] for line in outcome.progress] == [75, 50, 25, 0, 0]
    assert outcome.progress[0] == {
        "elapsed": 10.0, "migration_id": 1, "migration_status": "running", "memory_total_bytes": 256 * MIB,
        "memory_processed_bytes": 64 * MIB, "memory_remaining_bytes": 192 * MIB, "memory_remaining_percent": 75}
    assert [name for name, _details in events] == ["instance.migration_progress"] * 5 + ["instance.migration_timeout"]
    assert [details for name, details in events[:5]] == outcome.progress
    # 56 polls of the server and one more after the abort; one record read per line and one to abort.
    assert cloud.calls["compute.server_migrations"] == 6
    assert cloud.calls["compute.get_server"] == 1 + 56 + 1


def test_a_migration_that_ends_within_the_interval_reads_no_progress():
    cloud, clock = FakeCloud(settle_polls=8), Clock()
    server = cloud.add_server("compute1")
    outcome = migrator(cloud, clock).migrate(MigrationRequest(server, LIVE))
    assert outcome.status == "migrated" and outcome.progress == [] and outcome.timeout_action is None
    assert cloud.calls["compute.server_migrations"] == 0


def test_a_failed_progress_read_is_one_line_and_the_migration_goes_on():
    cloud, clock = FakeCloud(settle_polls=30), Clock()
    server = cloud.add_server("compute1")

    def unreadable(server_id):
        cloud.calls["compute.server_migrations"] += 1
        raise ConnectionError("connection reset by peer")

    cloud.compute.server_migrations = unreadable
    outcome = migrator(cloud, clock, poll_interval=1).migrate(MigrationRequest(server, LIVE))
    assert outcome.status == "migrated"
    assert outcome.progress == [{"elapsed": 10.0, "unavailable": (
        "reading the migration record failed: ConnectionError: connection reset by peer")}]
    assert cloud.calls["compute.server_migrations"] == 1


def test_a_server_that_does_not_settle_after_the_abort_is_reported_as_it_is():
    cloud, server = stuck(ignore_timeout_actions=True)
    outcome, _events = run_stuck(cloud, server, settle_timeout=5)
    assert (outcome.status, outcome.timeout_action) == ("failed", "aborted")
    assert ("aborted migration 1 (running); the server is MIGRATING on compute1 (task migrating, not settled),"
            " its source; migration 1 is now running") in outcome.error
    assert outcome.server_state == {"status": "MIGRATING", "task_state": "migrating", "host": "compute1"}


def test_nova_refusing_the_abort_is_reported_with_the_server_state():
    cloud, server = stuck()

    def refused(record, server_id, ignore_missing=True):
        cloud.calls["compute.abort_server_migration"] += 1
        raise http_error(400, "Migration 1 state of instance %s is completed." % server_id)

    cloud.compute.abort_server_migration = refused
    outcome, _events = run_stuck(cloud, server, settle_timeout=3)
    assert outcome.timeout_action == "reported"
    assert ("Nova refused to abort migration 1 (running): Migration 1 state of instance %s is completed.;"
            " the server is MIGRATING on compute1 (task migrating, not settled), its source" % server) in outcome.error
