"""Nova and Placement requests of one batch, on the test cloud with 4 and with 8 computes: the same.

A batch's cloud work grows with what it changes (its hosts, their servers), not with the cloud: this runs
the cloud modules of the role's batch for one host (compute2, whose 3 seeded servers move), in this process,
with a connection that counts every HTTP request by API - maintenance_plan of the batch, compute_service
disable, maintenance_instance_actions (the moves, wait_empty), compute_host_health, compute_service enable -
once on the cloud started with 4 computes and once with 8 (cloudctl restarts it; 3 servers per host both
times), and prints the requests of each module and the batch's total at both sizes and their ratio.

It also prints the bytes each step received: the batch's plan reads the servers of its hosts (and their
groups' other members), so what it transfers does not grow with the cloud either.

Usage: . scripts/env.sh && python bench/batch_requests.py [--computes 4 8]
Ends with the cloud restarted with the first count and seeded, and the extra computes' services and resource
providers deleted: Nova would keep them, down, and the tests' max_unavailable counts down hosts.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from host_requests import CLOUDCTL, CLOUD_DIR, run_module  # noqa: E402  (also puts the collection on sys.path)
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal  # noqa: E402
from ansible_collections.fenix.maintenance.plugins.modules.compute_host_health import ComputeHostHealthModule  # noqa: E402
from ansible_collections.fenix.maintenance.plugins.modules.compute_service import ComputeServiceModule  # noqa: E402
from ansible_collections.fenix.maintenance.plugins.modules.maintenance_instance_actions import (  # noqa: E402
    MaintenanceInstanceActionsModule,
)
from ansible_collections.fenix.maintenance.plugins.modules.maintenance_plan import MaintenancePlanModule  # noqa: E402

HOST = "compute2"
SESSION = "bench-batch"


def restart(computes: int, seed: bool = True) -> None:
    subprocess.run([CLOUDCTL, "stop"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([CLOUDCTL, "start"], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, FENIX_CLOUD_COMPUTES=str(computes)))
    if seed:
        subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)


def shrink_to(computes: int) -> None:
    """The cloud restarted with ``computes`` computes, seeded, and nothing left of the others in Nova.

    Their servers go while their computes still run (a delete on a stopped compute waits for it), then
    their services and resource providers once they are stopped, before the seed counts the hosts.
    """
    import openstack  # pylint: disable=import-outside-toplevel
    conn = openstack.connect(cloud="fenix-admin")
    kept = {"compute%d" % index for index in range(1, computes + 1)}
    beyond = [server for server in conn.compute.servers(all_projects=True) if server.compute_host not in kept]
    for server in beyond:
        conn.compute.delete_server(server)
    for server in beyond:
        conn.compute.wait_for_delete(server, wait=300)
    restart(computes, seed=False)
    forget_computes_beyond(computes)
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)


def forget_computes_beyond(computes: int) -> None:
    """Delete the nova-compute services (and resource providers) of compute<computes+1> and up, stopped and empty."""
    import openstack  # pylint: disable=import-outside-toplevel
    conn = openstack.connect(cloud="fenix-admin")
    kept = {"compute%d" % index for index in range(1, computes + 1)}
    for service in list(conn.compute.services(binary="nova-compute")):
        if service.host in kept:
            continue
        conn.compute.delete_service(service)
        for provider in conn.placement.get("/resource_providers?name=%s" % service.host).json()["resource_providers"]:
            conn.placement.delete("/resource_providers/%s" % provider["uuid"])
        print("forgot %s (service and resource provider)" % service.host)
    # Else a later start with more computes may see its cold migrations refused (cloudctl archive-deleted says why).
    subprocess.run([CLOUDCTL, "archive-deleted"], check=True, stdout=subprocess.DEVNULL)


def one_batch(workdir: str) -> list:
    """[(module, requests by API)] of the batch's cloud modules for HOST."""
    journal_path = os.path.join(workdir, "journal.sqlite")
    journal = Journal(journal_path)
    journal.create_session([HOST], session_id=SESSION)
    journal.set_session_state(SESSION, "PLANNED_MAINTENANCE")
    journal.close()
    session = {"session_id": SESSION, "journal": journal_path}
    steps = []
    plan, counts, _wall = run_module(MaintenancePlanModule, dict(session, batch=[HOST]))
    steps.append(("maintenance_plan (batch)", counts))
    _result, counts, _wall = run_module(ComputeServiceModule, dict(session, host=HOST, state="disabled",
                                                                   reason="maintenance"))
    steps.append(("compute_service disable", counts))
    _result, counts, _wall = run_module(MaintenanceInstanceActionsModule, dict(
        session, hosts=[HOST], waves=plan["plan"]["batches"][0]["waves"], concurrency=4, poll_interval=1,
        wait_empty=True, api_url="http://127.0.0.1:12347/v1",  # nothing answers there: the bus carries the events
        bus={"transport_url": "rabbit://guest:guest@127.0.0.1:5672/"}))
    steps.append(("maintenance_instance_actions", counts))
    _result, counts, _wall = run_module(ComputeHostHealthModule, {"host": HOST, "poll_interval": 1})
    steps.append(("compute_host_health", counts))
    _result, counts, _wall = run_module(ComputeServiceModule, dict(session, host=HOST, state="enabled"))
    steps.append(("compute_service enable", counts))
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--computes", type=int, nargs="+", default=[4, 8])
    args = parser.parse_args()
    os.environ["OS_CLIENT_CONFIG_FILE"] = os.path.join(CLOUD_DIR, "clouds.yaml")
    totals, sizes = {}, {}
    for computes in args.computes:
        restart(computes)
        with tempfile.TemporaryDirectory() as workdir:
            steps = one_batch(workdir)
        total = collections.Counter()
        print("%d computes, %d servers, the batch of %s:" % (computes, 3 * computes, HOST))
        received = collections.Counter()
        for name, counts in steps:
            print("  %-30s %3d requests %s, %6d bytes received" % (
                name, sum(counts.values()), dict(sorted(counts.items())), sum(counts.received.values())))
            total.update(counts)
            received.update(counts.received)
        totals[computes] = total
        sizes[computes] = received
        print("  %-30s %3d requests %s, %6d bytes received" % (
            "batch", sum(total.values()), dict(sorted(total.items())), sum(received.values())))
    first, last = args.computes[0], args.computes[-1]
    if last != first:
        shrink_to(first)
    if first != last:
        for api in ("compute", "placement"):
            print("%s requests of the batch, %d computes against %d: %d / %d = %.2f; bytes received %d / %d = %.2f" % (
                api, last, first, totals[last][api], totals[first][api],
                totals[last][api] / max(totals[first][api], 1),
                sizes[last][api], sizes[first][api], sizes[last][api] / max(sizes[first][api], 1)))


if __name__ == "__main__":
    main()
