from types import SimpleNamespace

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.migration import (
    COLD,
    LIVE,
    MigrationError,
    MigrationRequest,
    MigrationSettings,
    Migrator,
    ServersRead,
    StartOrder,
    confirm_resize,
    is_transient_refusal,
    recent_migration_seconds,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.snapshot import list_servers
from fakes import CallsTogether, FakeCloud, http_error

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


def test_a_confirmation_nova_refuses_because_it_was_confirmed_meanwhile_is_no_error():
    cloud, clock = FakeCloud(), Clock()
    server = cloud.add_server("compute1", status="SHUTOFF")
    cloud.confirmed_meanwhile = 1  # a killed run's confirmation was under way
    outcome = migrator(cloud, clock).migrate(MigrationRequest(server, COLD, target_host="compute3"))
    assert (outcome.status, outcome.destination, outcome.error) == ("migrated", "compute3", None)
    assert cloud.servers[server].status == "SHUTOFF" and cloud.calls["compute.confirm_server_resize"] == 1


def test_a_conflict_on_a_server_still_waiting_is_raised():
    cloud = FakeCloud()
    server = cloud.servers[cloud.add_server("compute1", status="SHUTOFF")]
    server.status = "VERIFY_RESIZE"

    def refuse(_server):
        raise http_error(409, "busy")

    cloud.compute.confirm_server_resize = refuse
    with pytest.raises(Exception, match="busy"):
        confirm_resize(cloud, server)


def refused_confirmation(records):
    """A server in VERIFY_RESIZE with these (id, status) migration records, whose confirmation Nova refuses with 400."""
    cloud = FakeCloud()
    server = cloud.servers[cloud.add_server("compute1", status="SHUTOFF")]
    server.status = "VERIFY_RESIZE"
    for record_id, status in records:
        cloud.migration_records.append((server.id, SimpleNamespace(id=record_id, status=status)))

    def refuse(_server):
        raise http_error(400, "Instance has not been resized.")

    cloud.compute.confirm_server_resize = refuse
    return cloud, server


def test_a_confirmation_nova_is_still_carrying_out_is_no_error():
    """A killed run's confirmation reached Nova: the migration is confirming and the server still VERIFY_RESIZE."""
    cloud, server = refused_confirmation([(1, "confirmed"), (2, "confirming")])
    confirm_resize(cloud, server)
    assert cloud.calls["compute.migrations"] == 1


@pytest.mark.parametrize("records", [[(1, "finished")], [(1, "confirmed"), (2, "finished")], []])
def test_a_refusal_while_the_resize_still_waits_for_its_confirmation_is_raised(records):
    """An older migration's confirmation does not count: only the latest record says whether one is under way."""
    cloud, server = refused_confirmation(records)
    with pytest.raises(Exception, match="has not been resized"):
        confirm_resize(cloud, server)


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


@pytest.mark.parametrize("kind", [LIVE, COLD])
def test_a_named_target_that_fails_the_migration_is_dropped_with_target_fallback(kind):
    cloud, clock = FakeCloud(hosts=("compute1", "compute2", "compute3")), Clock()
    server = cloud.add_server("compute1", status="ACTIVE")
    cloud.failing_targets = {"compute2"}
    events = []
    outcome = migrator(cloud, clock, target_fallback=True).migrate(
        MigrationRequest(server, kind, target_host="compute2"), events=lambda _o, what, details: events.append((what, details)))
    assert (outcome.status, outcome.attempts, outcome.dropped_target) == ("migrated", 2, "compute2")
    assert outcome.destination == cloud.servers[server].compute_host == "compute3"
    assert [what for what, _details in events] == ["instance.migration_target_dropped"]
    assert events[0][1]["target"] == "compute2" and "still on compute1" in events[0][1]["error"]
    assert clock.sleeps.count(3) == 1  # the retry's backoff


def test_a_refusal_naming_the_target_drops_it_with_target_fallback():
    cloud, clock = FakeCloud(hosts=("compute1", "compute2", "compute3")), Clock()
    server = cloud.add_server("compute1")
    cloud.refusals = [http_error(400, "Compute service of compute2 is unavailable at this time.")]
    cloud.failing_targets = {"compute2"}  # down: the scheduler does not choose it either
    outcome = migrator(cloud, clock, target_fallback=True).migrate(MigrationRequest(server, LIVE, target_host="compute2"))
    assert (outcome.status, outcome.attempts, outcome.dropped_target, outcome.destination) == (
        "migrated", 2, "compute2", "compute3")

    cloud.refusals = [http_error(400, "Compute service of compute3 is unavailable at this time.")]
    refused = migrator(cloud, clock).migrate(MigrationRequest(server, LIVE, target_host="compute3"))
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert "Compute service of compute3 is unavailable" in refused.error


def test_a_refusal_finding_the_source_host_down_says_what_to_check():
    """Nova's 409 "Service is unavailable at this time." names no host: the error says which service to look at, and
    the soft-deleted service row that makes a re-registered host look down (seen on the test cloud)."""
    cloud, clock = FakeCloud(hosts=("compute1", "compute2")), Clock()
    server = cloud.add_server("compute1")
    cloud.refusals = [http_error(409, "Service is unavailable at this time.")]
    refused = migrator(cloud, clock, retries=0).migrate(MigrationRequest(server, COLD, target_host="compute2"))
    assert refused.status == "failed"
    assert refused.error.startswith("Nova refused the cold migration: Service is unavailable at this time. (Nova finds"
                                    " the nova-compute service of the server's host down")
    assert "nova-manage db archive_deleted_rows" in refused.error

    cloud.refusals = [http_error(400, "Compute service of compute2 is unavailable at this time.")]
    other = migrator(cloud, clock, retries=0).migrate(MigrationRequest(server, COLD, target_host="compute2"))
    assert other.error == "Nova refused the cold migration: Compute service of compute2 is unavailable at this time."


def test_without_target_fallback_every_attempt_asks_for_the_named_target():
    cloud, clock = FakeCloud(hosts=("compute1", "compute2", "compute3")), Clock()
    server = cloud.add_server("compute1")
    cloud.failing_targets = {"compute2"}
    outcome = migrator(cloud, clock, retries=2).migrate(MigrationRequest(server, COLD, target_host="compute2"))
    assert (outcome.status, outcome.attempts, outcome.dropped_target) == ("failed", 3, None)
    assert cloud.servers[server].compute_host == "compute1"
    assert "still on compute1" in outcome.error


def test_a_permanent_refusal_is_not_retried_even_with_target_fallback():
    cloud, clock = FakeCloud(), Clock()
    server = cloud.add_server("compute1")
    cloud.refusals = [http_error(400, "Migration pre-check error: not shared storage")]
    outcome = migrator(cloud, clock, target_fallback=True).migrate(MigrationRequest(server, LIVE, target_host="compute2"))
    assert (outcome.status, outcome.attempts, outcome.dropped_target) == ("failed", 1, None)


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


# Batches: several migrations at once share one poll, one list of the servers of each host.

SOURCES = ["compute1", "compute2", "compute3", "compute4"]
TARGETS = ["compute5", "compute6"]


class ListLog:
    """Wraps the fake's server list: which hosts each poll listed, and how many servers were migrating then."""

    def __init__(self, cloud, clock):
        self.cloud, self.clock = cloud, clock
        self.hosts_at = {}  # clock time: hosts listed then
        self.migrating = []  # at each list: {source host: its servers migrating}, and per target
        self.original = cloud.compute.servers
        cloud.compute.servers = self

    def __call__(self, **query):
        self.hosts_at.setdefault(self.clock.now, []).append(query.get("compute_host"))
        busy = [server for server in self.cloud.servers.values() if server.task_state is not None]
        self.migrating.append(busy)
        return self.original(**query)

    def polls(self):
        """Hosts listed by each poll after the first moment (which also reads the sources before any request)."""
        return [hosts for moment, hosts in sorted(self.hosts_at.items()) if moment > 0]


def batch_cloud(per_host=5, kind=LIVE, settle_polls=3, targets=True):
    """``per_host`` servers on each of 4 sources, each request naming a target (compute5, compute6) or not."""
    cloud = FakeCloud(hosts=SOURCES + TARGETS, settle_polls=settle_polls)
    requests = []
    for _index in range(per_host):
        for host in SOURCES:
            server = cloud.add_server(host, status="ACTIVE" if kind == LIVE else "SHUTOFF")
            target = TARGETS[len(requests) % 2] if targets else None
            requests.append(MigrationRequest(server, kind, target, source_host=host))
    return cloud, requests


def run_batch(cloud, requests, **settings):
    clock = Clock()
    log = ListLog(cloud, clock)
    defaults = dict(concurrency=100, concurrency_per_host=2, concurrency_per_target=100)
    defaults.update(settings)
    outcomes = migrator(cloud, clock, **defaults).migrate_all(requests)
    return outcomes, log, clock


def nova_requests(cloud):
    return sum(count for call, count in cloud.calls.items() if call.startswith("compute."))


def test_a_batch_polls_each_host_once_per_poll_and_no_server_alone():
    # Each live migration ends at the 4th read of its server after the request: 4 polls at 1 s, as one of about
    # 8 s on the test cloud at poll_interval 2.
    cloud, requests = batch_cloud(per_host=5)
    outcomes, log, _clock = run_batch(cloud, requests)
    assert [outcome.server_id for outcome in outcomes] == [request.server_id for request in requests]
    assert all(outcome.status == "migrated" for outcome in outcomes)
    assert [outcome.destination for outcome in outcomes] == [request.target_host for request in requests]
    assert {cloud.servers[request.server_id].compute_host for request in requests} == set(TARGETS)
    # No server is read on its own: neither before its request nor while it migrates.
    assert cloud.calls["compute.get_server"] == 0
    assert cloud.calls["compute.live_migrate_server"] == 20
    assert nova_requests(cloud) / len(requests) <= 5
    # A poll lists each host a migrating server was on (or went to) once: at most the 6 hosts, whatever the count.
    assert all(len(hosts) == len(set(hosts)) <= 6 for hosts in log.polls())


def test_the_requests_of_a_poll_grow_with_the_hosts_not_the_servers():
    small_cloud, small = batch_cloud(per_host=5)
    _outcomes, small_log, _clock = run_batch(small_cloud, small)
    large_cloud, large = batch_cloud(per_host=10)
    outcomes, large_log, _clock = run_batch(large_cloud, large)
    assert all(outcome.status == "migrated" for outcome in outcomes)
    # Twice the servers on the same hosts: no poll lists more, each migrated server costs less.
    assert max(len(hosts) for hosts in large_log.polls()) == max(len(hosts) for hosts in small_log.polls()) <= 6
    assert nova_requests(large_cloud) / len(large) < nova_requests(small_cloud) / len(small) <= 5
    assert large_cloud.calls["compute.get_server"] == 0


def test_cold_migrations_of_a_batch_are_confirmed_and_polled_per_host():
    cloud, requests = batch_cloud(per_host=5, kind=COLD)
    outcomes, log, _clock = run_batch(cloud, requests)
    assert all(outcome.status == "migrated" for outcome in outcomes)
    assert all(cloud.servers[request.server_id].status == "SHUTOFF" for request in requests)
    assert cloud.calls["compute.confirm_server_resize"] == 20 and cloud.calls["compute.get_server"] == 0
    assert all(cloud.allocations[host] == {} for host in SOURCES)
    # The request and its confirmation are two of them; the polls of every host share the rest.
    assert nova_requests(cloud) / len(requests) <= 6
    assert all(len(hosts) <= 6 for hosts in log.polls())


def test_a_server_gone_from_its_host_without_a_named_target_is_read_once():
    cloud, requests = batch_cloud(per_host=5, targets=False)
    outcomes, _log, _clock = run_batch(cloud, requests)
    assert all(outcome.status == "migrated" for outcome in outcomes)
    # The fake scheduler sends compute1's servers to compute2 and the others to compute1: a server is read alone
    # only when it landed on a host that poll did not list (one with no migration of its own left).
    assert cloud.calls["compute.get_server"] <= len(requests)
    assert nova_requests(cloud) / len(requests) <= 5


def test_concurrency_is_per_source_host_so_more_hosts_move_more_at_once():
    cloud, requests = batch_cloud(per_host=5)
    _outcomes, log, _clock = run_batch(cloud, requests, concurrency_per_host=2)
    sources = {request.server_id: request.source_host for request in requests}
    per_source = [[sources[server.id] for server in busy] for busy in log.migrating]
    assert max(max(hosts.count(host) for host in SOURCES) for hosts in per_source) == 2
    # Four hosts at two each: eight at once, where one overall cap of two would have moved two.
    assert max(len(busy) for busy in log.migrating) == 8


def test_concurrency_per_target_and_overall_cap():
    cloud, requests = batch_cloud(per_host=5)
    _outcomes, log, _clock = run_batch(cloud, requests, concurrency_per_target=3)
    targets = {request.server_id: request.target_host for request in requests}
    assert max(max([targets[server.id] for server in busy].count(host) for host in TARGETS)
               for busy in log.migrating) == 3
    cloud, requests = batch_cloud(per_host=5)
    outcomes, log, _clock = run_batch(cloud, requests, concurrency=3)
    assert max(len(busy) for busy in log.migrating) == 3
    assert all(outcome.status == "migrated" for outcome in outcomes)


def test_a_request_waits_only_for_its_own_hosts_slot():
    # Three servers on compute1 and one on compute2: compute2's starts with the first two, not after them.
    cloud = FakeCloud(settle_polls=3)
    requests = [MigrationRequest(cloud.add_server(host), LIVE, "compute3", source_host=host)
                for host in ("compute1", "compute1", "compute1", "compute2")]
    started = []
    clock = Clock()
    settings = dict(concurrency=10, concurrency_per_host=2)
    outcomes = migrator(cloud, clock, **settings).migrate_all(
        requests, started=lambda request: started.append((request.server_id, clock.now)),
        ended=lambda request, outcome: started.append((request.server_id, outcome.status)))
    assert all(outcome.status == "migrated" for outcome in outcomes)
    first, second, third, fourth = (request.server_id for request in requests)
    assert started[:3] == [(first, 0.0), (second, 0.0), (fourth, 0.0)]
    assert (third, 0.0) not in started and [item for item in started if item[0] == third][0][1] > 0
    assert [item for item in started if item[0] == first][-1] == (first, "migrated")


def test_started_and_ended_wrap_every_migration_of_a_batch_polled_per_host():
    cloud, requests = batch_cloud(per_host=3)
    clock = Clock()
    calls = []
    instance = migrator(cloud, clock, concurrency=8, concurrency_per_host=2)
    outcomes = instance.migrate_all(
        requests, started=lambda request: calls.append(("start", request.server_id)),
        ended=lambda request, outcome: calls.append(("end", request.server_id, outcome.status)))
    assert [outcome.server_id for outcome in outcomes] == [request.server_id for request in requests]
    assert all(outcome.status == "migrated" for outcome in outcomes)
    assert sorted(call[1] for call in calls if call[0] == "start") == sorted(r.server_id for r in requests)
    assert all(call[2] == "migrated" for call in calls if call[0] == "end")
    assert cloud.calls["compute.get_server"] == 0
    assert nova_requests(cloud) / len(requests) <= 5


def test_an_error_raised_by_ended_reaches_the_caller_once_the_others_are_done():
    cloud, requests = batch_cloud(per_host=1)
    clock = Clock()
    instance = migrator(cloud, clock, concurrency=4)

    def failing(request, _outcome):
        if request is requests[1]:
            raise RuntimeError("journal is locked")

    with pytest.raises(RuntimeError, match="journal is locked"):
        instance.migrate_all(requests, ended=failing)
    moved = [request for request in requests if cloud.servers[request.server_id].compute_host in TARGETS]
    assert len(moved) == 4


def test_a_stuck_migration_of_a_batch_is_aborted_and_the_others_move():
    cloud, requests = batch_cloud(per_host=1)
    stuck_server = requests[0].server_id
    original = cloud.compute.live_migrate_server

    def never_ends_for_the_first(server_id, **kwargs):
        original(server_id, **kwargs)
        if server_id == stuck_server:
            cloud._pending[server_id]["polls"] = 10 ** 6

    cloud.compute.live_migrate_server = never_ends_for_the_first
    events = []
    clock = Clock()
    outcomes = migrator(cloud, clock, concurrency=4, timeout=25).migrate_all(
        requests, events=lambda outcome, kind, details: events.append((outcome.server_id, kind)))
    assert (outcomes[0].status, outcomes[0].timeout_action) == ("failed", "aborted")
    assert cloud.servers[stuck_server].compute_host == "compute1"
    assert all(outcome.status == "migrated" for outcome in outcomes[1:])
    assert events == [(stuck_server, "instance.migration_progress")] * 2 + [(stuck_server, "instance.migration_timeout")]
    # Its progress was read at 10 s and 20 s, and its record once more to abort it: no other server's.
    assert cloud.calls["compute.server_migrations"] == 3 and cloud.calls["compute.get_server"] == 0


def test_a_refused_request_of_a_batch_is_retried_after_its_backoff():
    cloud, requests = batch_cloud(per_host=1)
    cloud.refusals_of = {requests[0].server_id: [http_error(409, "task_state migrating")]}
    clock = Clock()
    outcomes = migrator(cloud, clock, concurrency=4, retry_delay=3).migrate_all(requests)
    assert [outcome.attempts for outcome in outcomes] == [2, 1, 1, 1]
    assert all(outcome.status == "migrated" for outcome in outcomes)
    # The others went on meanwhile; the refused one started again 3 s later and took as long as they did.
    assert [outcome.duration for outcome in outcomes] == [6.0, 3.0, 3.0, 3.0]


def test_the_migrations_a_batch_starts_at_once_are_requested_together():
    cloud, requests = batch_cloud(per_host=1)
    cloud.compute = CallsTogether(cloud.compute, "live_migrate_server", len(requests))
    outcomes, _log, _clock = run_batch(cloud, requests)
    assert [(outcome.status, outcome.attempts, outcome.error) for outcome in outcomes] == [("migrated", 1, None)] * 4
    assert not cloud.compute.barrier.broken


def test_the_source_hosts_of_a_batch_are_listed_together():
    cloud, requests = batch_cloud(per_host=2)
    cloud.compute = CallsTogether(cloud.compute, "servers", len(SOURCES))
    outcomes, _log, _clock = run_batch(cloud, requests)
    assert all(outcome.status == "migrated" for outcome in outcomes)
    assert cloud.compute.calls > len(SOURCES) and not cloud.compute.barrier.broken


def test_a_batch_starts_from_the_callers_fresh_read_of_the_servers_without_listing_them_again():
    cloud, requests = batch_cloud(per_host=1)
    listed = list_servers(cloud, SOURCES)  # as maintenance_instance_actions lists them first
    before = cloud.calls["compute.servers"]
    clock = Clock()
    clock.now = 10.0
    instance = migrator(cloud, clock, concurrency=4, wait=False)
    outcomes = instance.migrate_all(requests, read=ServersRead(listed, at=9.5))
    assert [outcome.status for outcome in outcomes] == ["requested"] * 4
    assert cloud.calls["compute.servers"] == before and cloud.calls["compute.get_server"] == 0

    # A read older than a poll interval is not trusted: the batch lists the source hosts itself.
    cloud, requests = batch_cloud(per_host=1)
    outcomes = migrator(cloud, clock, concurrency=4, wait=False).migrate_all(requests, read=ServersRead(listed, at=8.0))
    assert [outcome.status for outcome in outcomes] == ["requested"] * 4
    assert cloud.calls["compute.servers"] == len(SOURCES)


def test_a_batch_without_waiting_requests_each_migration_once():
    cloud, requests = batch_cloud(per_host=2)
    outcomes, log, _clock = run_batch(cloud, requests, wait=False)
    assert [outcome.status for outcome in outcomes] == ["requested"] * 8
    assert cloud.calls["compute.live_migrate_server"] == 8 and log.polls() == []


def test_a_failing_started_callback_skips_its_migration_and_is_raised_once_the_others_are_done():
    cloud, requests = batch_cloud(per_host=1)
    ended = []

    def started(request):
        if request is requests[2]:
            raise RuntimeError("journal is locked")

    with pytest.raises(RuntimeError, match="journal is locked"):
        migrator(cloud, Clock(), concurrency=4).migrate_all(
            requests, started=started, ended=lambda request, outcome: ended.append(request.server_id))
    assert ended == [request.server_id for request in requests if request is not requests[2]]
    assert cloud.servers[requests[2].server_id].compute_host == "compute3"
    assert cloud.calls["compute.live_migrate_server"] == 3


# A StartOrder: a request starts once the requests it comes after ended well, and once its hold passed.

def ordered_run(cloud, requests, after, hold=None, **settings):
    """The outcomes and the (time, started/ended, server) events of an ordered run; ``hold(request, now)``."""
    clock, events = Clock(), []
    defaults = dict(concurrency=10, concurrency_per_host=2)
    defaults.update(settings)
    order = StartOrder(after, (lambda request: hold(request, clock.now)) if hold else (lambda request: 0.0))
    outcomes = migrator(cloud, clock, **defaults).migrate_all(
        requests, started=lambda request: events.append((clock.now, "started", request.server_id)),
        ended=lambda request, outcome: events.append((clock.now, "ended", request.server_id)), order=order)
    return outcomes, {(kind, server): moment for moment, kind, server in events}


def test_an_ordered_request_starts_when_those_before_it_ended_and_its_hold_passed():
    # a and b start at once; c comes after a (its group's next wave) and waits 2 s more; compute2's second
    # server waits for b's slot. c does not wait for the whole first wave.
    cloud = FakeCloud(settle_polls=3)
    a, b, later, c = (cloud.add_server(host) for host in ("compute1", "compute2", "compute2", "compute1"))
    requests = [MigrationRequest(server, LIVE, "compute3", source_host=cloud.servers[server].compute_host)
                for server in (a, b, later, c)]
    asked = {}  # when c's hold was first asked: once a ended, as c comes after a

    def hold(request, now):
        return 0.0 if request.server_id != c else max(0.0, asked.setdefault(c, now) + 2 - now)
    outcomes, times = ordered_run(cloud, requests, after=[[], [], [], [0]], hold=hold, concurrency_per_host=1)
    assert all(outcome.status == "migrated" for outcome in outcomes)
    assert times[("started", a)] == times[("started", b)] == 0.0
    assert times[("started", c)] >= times[("ended", a)] + 2
    assert times[("started", later)] >= times[("ended", b)]
    assert times[("started", c)] < times[("ended", later)]


def test_a_member_waiting_out_its_recovery_keeps_a_slot_of_its_host_from_the_free_servers():
    # first and second are members of one group on compute1, the second 2 s after the first ended; free
    # servers queued after them. One slot per host: the free servers would take compute1's slot the moment
    # the first member ended, and the second member would wait for a whole migration more.
    cloud = FakeCloud(settle_polls=3)
    first, second, free1, free2 = (cloud.add_server("compute1") for _server in range(4))
    requests = [MigrationRequest(server, LIVE, "compute3", source_host="compute1")
                for server in (first, second, free1, free2)]
    asked = {}

    def hold(request, now):
        return 0.0 if request.server_id != second else max(0.0, asked.setdefault(second, now) + 2 - now)
    outcomes, times = ordered_run(cloud, requests, after=[[], [0], [], []], hold=hold, concurrency_per_host=1)
    assert all(outcome.status == "migrated" for outcome in outcomes)
    assert times[("started", second)] == times[("ended", first)] + 2
    assert times[("started", free1)] >= times[("ended", second)]
    # The slot is kept only while the member waits out its hold, not while the member before it moves (a
    # free server moves beside the first member), and one slot only: the other takes the next free server.
    cloud = FakeCloud(settle_polls=3)
    first, second, free1, free2 = (cloud.add_server("compute1") for _server in range(4))
    requests = [MigrationRequest(server, LIVE, "compute3", source_host="compute1")
                for server in (first, second, free1, free2)]
    asked.clear()
    outcomes, times = ordered_run(cloud, requests, after=[[], [0], [], []], hold=hold, concurrency_per_host=2)
    assert times[("started", first)] == times[("started", free1)] == 0.0
    assert times[("started", second)] == times[("ended", first)] + 2
    assert times[("started", free2)] == times[("ended", first)] < times[("started", second)]


def test_a_request_after_one_that_failed_is_left_unmoved_and_the_others_move():
    cloud = FakeCloud(settle_polls=2)
    a, b, c = (cloud.add_server(host) for host in ("compute1", "compute2", "compute1"))
    original = cloud.compute.live_migrate_server

    def refuse_a(server_id, **kwargs):
        if server_id == a:
            raise http_error(400, "Migration pre-check error")
        return original(server_id, **kwargs)
    cloud.compute.live_migrate_server = refuse_a
    requests = [MigrationRequest(server, LIVE, "compute3") for server in (a, b, c)]
    outcomes, times = ordered_run(cloud, requests, after=[[], [], [0]])
    assert [outcome.status for outcome in outcomes] == ["failed", "migrated", "skipped"]
    assert outcomes[2].error == "not started: server %s, which had to move before it, did not move" % a
    assert ("started", c) not in times and cloud.servers[c].compute_host == "compute1"


def test_an_order_that_can_never_be_met_is_an_error_not_a_hang():
    cloud = FakeCloud(settle_polls=2)
    a, b = cloud.add_server("compute1"), cloud.add_server("compute2")
    with pytest.raises(MigrationError, match="wait for migrations that never end"):
        ordered_run(cloud, [MigrationRequest(a, LIVE), MigrationRequest(b, LIVE)], after=[[1], [0]])


def nova_record(migration_type, status, created_at, updated_at):
    return (None, SimpleNamespace(migration_type=migration_type, status=status, created_at=created_at,
                                  updated_at=updated_at))


def test_the_clouds_latest_migrations_that_ended_well_tell_how_long_each_kind_lasts():
    cloud = FakeCloud(hosts=("h0", "h1"))
    cloud.migration_records = [
        nova_record("live-migration", "completed", "2026-12-07T10:00:00.000000", "2026-12-07T10:00:06.000000"),
        nova_record("live-migration", "error", "2026-12-07T10:01:00.000000", "2026-12-07T10:03:00.000000"),
        nova_record("migration", "confirmed", "2026-12-07T10:04:00.000000", "2026-12-07T10:04:09.000000"),
        nova_record("resize", "confirmed", "2026-12-07T10:05:00.000000", "2026-12-07T10:05:30.000000"),
        nova_record("migration", "finished", "2026-12-07T10:06:00.000000", "2026-12-07T10:06:03.000000"),
        nova_record("live-migration", "completed", "2026-12-07T10:07:00.000000", "2026-12-07T10:07:04.000000"),
    ]
    conn = cloud
    # Failed, unconfirmed and resizes say nothing of a move; newest first, the page's limit kept.
    assert recent_migration_seconds(conn, 100) == {"LIVE_MIGRATE": [4.0, 6.0], "MIGRATE": [9.0]}
    assert recent_migration_seconds(conn, 1) == {"LIVE_MIGRATE": [4.0], "MIGRATE": []}
    assert cloud.calls["compute.latest_migrations"] == 2


def test_an_older_nova_lists_every_migration_at_once_so_none_is_read():
    cloud = FakeCloud(hosts=("h0", "h1"))
    cloud.api_versions["compute"] = ("2.1", "2.58")
    cloud.migration_records = [
        nova_record("live-migration", "completed", "2026-12-07T10:00:00.000000", "2026-12-07T10:00:06.000000")]
    assert recent_migration_seconds(cloud, 100) == {}
    assert cloud.calls["compute.latest_migrations"] == 0
