"""maintenance_plan through ansible-playbook against the real test cloud: a read-only dry run."""

from __future__ import annotations

import json
import os

from conftest import CLOUD_DIR


def cloud_state(admin):
    servers = {s.id: (s.compute_host, s.status) for s in admin.compute.servers(details=True, all_projects=True)}
    services = {s.host: s.status for s in admin.compute.services(binary="nova-compute")}
    return servers, services


def test_plan_covers_every_host_and_keeps_anti_affinity(playbook, admin):
    with open(os.path.join(CLOUD_DIR, "seed.json")) as handle:
        seed = json.load(handle)
    members = {s["id"] for s in seed["servers"] if s.get("group") == "aa-group"}
    assert len(members) == 3
    before = cloud_state(admin)
    result, checked = playbook.run(
        {"fenix.maintenance.maintenance_plan": {"max_parallel_hosts": 4, "max_unavailable": {"availability_zone": "50%"},
                                                "journal": os.path.join(playbook.workdir, "absent.sqlite")}},
        {"fenix.maintenance.maintenance_plan": {"batch": ["compute4"]}},
    )
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    hosts = sorted(h for b in result["plan"]["batches"] for h in b["hosts"])
    assert hosts == ["compute1", "compute2", "compute3", "compute4"]
    assert sum(result["serial"]) == 4 and result["blockers"] == [] and result["scale_in"] is None
    placement = {server_id: host for server_id, (host, _status) in before[0].items()}
    for batch in result["plan"]["batches"]:
        for wave in batch["waves"]:
            for move in wave:
                assert move["from_host"] == placement[move["server_id"]]
                assert move["to_host"] not in batch["hosts"]
                placement[move["server_id"]] = move["to_host"]
        aa_hosts = [placement[m] for m in members]
        assert len(set(aa_hosts)) == 3, "two aa-group members on one host after batch %s" % batch["hosts"]
    kinds = {m["server_id"]: m["kind"] for b in result["plan"]["batches"] for w in b["waves"] for m in w}
    statuses = {s["id"]: s["status"] for s in seed["servers"]}
    assert all(kinds[sid] == ("MIGRATE" if statuses[sid] == "SHUTOFF" else "LIVE_MIGRATE") for sid in kinds)
    assert {p["project_id"] for p in result["projects"]} == {s["project_id"] for s in seed["servers"]}
    # the one-batch mode plans compute4 alone against the cloud as it is
    assert not checked.get("failed"), checked.get("msg")
    assert checked["serial"] == [1]
    # read-only: nothing moved, nothing disabled, no journal made
    assert cloud_state(admin) == before
    assert not os.path.exists(os.path.join(playbook.workdir, "absent.sqlite"))
