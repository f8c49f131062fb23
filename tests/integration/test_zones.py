"""Targets Nova accepts, on the test cloud seeded with two zones, a trait and a pinned aggregate (FENIX_SEED_ZONES=1).

The seed (cloud/seed.py) puts on compute2 a server booted into az1 and one of the flavor fenix.fast (trait
CUSTOM_FENIX_FAST, on every host but compute4), on compute4 one booted into az2, one of fenix.pinned (the
aggregate fenix-az2's metadata) and one of fenix.accel (an extra spec the planner does not model). The plan names
only targets Nova accepts; a maintenance of compute2 and compute4 moves every server where Nova accepts it the
first time (no "No valid host", no target dropped), none changes zone, and the accel server goes where the
scheduler chose, as the plan said. Nova is read independently: zones, hosts, migration records.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess

import pytest

from conftest import CLOUDCTL
from test_rolling_maintenance import Run, enabled_everywhere, run_then_stop, start_vnfms, webhook_urls

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal

MAINTAINED = ["compute2", "compute4"]


@pytest.fixture(scope="module")
def zoned(test_cloud):
    """The zoned seed for this module; the standard seed again afterwards."""
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, FENIX_SEED_ZONES="1"))
    try:
        with open(os.path.join(test_cloud, "seed.json")) as handle:
            yield json.load(handle)
    finally:
        subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)


def by_flavor(seed: dict, flavor: str) -> dict:
    server, = [server for server in seed["servers"] if server["flavor"] == flavor]
    return server


def accepted_hosts(seed: dict, server: dict) -> set:
    """Where Nova's scheduler takes the server, by the seed's rules (its host included)."""
    hosts = set(seed["hosts"])
    if server["zone"]:
        hosts = {host for host in hosts if seed["zones"][host] == server["zone"]}
    if server["flavor"] == "fenix.fast":
        hosts &= set(seed["trait_hosts"]["CUSTOM_FENIX_FAST"])
    if server["flavor"] == "fenix.pinned":
        hosts = {host for host in hosts if seed["zones"][host] == "az2"}
    return hosts


def test_the_plan_names_only_targets_nova_accepts(zoned, playbook):
    assert set(zoned["zones"].values()) == {"az1", "az2"}
    result, = playbook.run({"fenix.maintenance.maintenance_plan": {
        "max_parallel_hosts": 2, "max_unavailable": {"availability_zone": "50%"},
        "journal": os.path.join(playbook.workdir, "absent.sqlite")}})
    assert not result.get("failed"), result.get("msg")
    assert result["blockers"] == [] and sum(result["serial"]) == len(zoned["hosts"])
    servers = {server["id"]: server for server in zoned["servers"]}
    accel = by_flavor(zoned, "fenix.accel")
    checked = 0
    for batch in result["plan"]["batches"]:
        for wave in batch["waves"]:
            for move in wave:
                server = servers[move["server_id"]]
                if server["id"] == accel["id"]:
                    assert move["to_host"] is None
                    continue
                if server["zone"] or server["flavor"] != "fenix.tiny":
                    assert move["to_host"] in accepted_hosts(zoned, server) - {move["from_host"]}, (server, move)
                    checked += 1
    assert checked >= 5, "each zoned, trait and pinned server was planned"
    assert [(item["server_id"], item["reason"]) for item in result["plan"]["scheduler_moves"]] == [
        (accel["id"], "its flavor's extra spec fenix_test:accelerator=fpga is not one the planner models")]


def test_a_maintenance_moves_each_server_where_nova_accepts_it(zoned, admin, tmp_path):
    since = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    vnfms = start_vnfms(tmp_path, zoned, {"tenant-a": "live_migrate", "tenant-b": "migrate", "tenant-c": "migrate"})
    run = Run(tmp_path, "zones", webhook_urls(zoned, vnfms), rolling_maintenance_hosts=MAINTAINED,
              rolling_maintenance_reply_timeout=5, rolling_maintenance_actions=[])
    code, output = run_then_stop(run, vnfms)
    assert code == 0, output[-3000:]
    journal = Journal(run.journal)
    assert journal.session("zones").state == "MAINTENANCE_DONE"
    assert not [event for event in journal.events("zones") if event["kind"] == "instance.migration_target_dropped"]
    moves = journal.moves("zones")
    assert moves and all(move.state == "DONE" and not move.error for move in moves), [
        (move.instance_id, move.state, move.error) for move in moves]

    # Nova, read independently: every server of the maintained hosts moved (a server moved onto the host
    # maintained second may come back to the first), each is where its rules allow and in its zone, and every
    # migration went through the first time: no record failed ("No valid host" included).
    records = [record for record in admin.compute.migrations()
               if datetime.datetime.fromisoformat(record.created_at.rstrip("Z")) >= since]
    assert not [(record.server_id, record.status) for record in records if record.status in ("error", "failed")]
    migrated = {record.server_id for record in records}
    now = {server.id: server for server in admin.compute.servers(details=True, all_projects=True)}
    assert sorted(now) == sorted(server["id"] for server in zoned["servers"])
    for server in zoned["servers"]:
        current = now[server["id"]]
        assert current.status == server["status"], server
        if server["host"] not in MAINTAINED:
            continue
        assert server["id"] in migrated, server
        assert current.compute_host in accepted_hosts(zoned, server), (server, current.compute_host)
        if server["zone"]:
            assert current.availability_zone == server["zone"], server
    assert enabled_everywhere(admin)
    # The accel server went where the scheduler chose; the plan page said it would.
    accel = by_flavor(zoned, "fenix.accel")
    assert accel["host"] in MAINTAINED and accel["id"] in migrated
    with open(os.path.join(os.path.dirname(run.journal), "reports", "zones-plan.md")) as handle:
        page = handle.read()
    assert "fenix_test:accelerator=fpga is not one the planner models; the scheduler chooses" in page
