"""Requests made by compute_host_info and compute_host_drain, and drain overhead.

Runs the modules' own code in this process against the running test cloud,
with a connection that counts every HTTP request by API. Seeds 4 hosts x 10
servers (40) first unless --no-seed. Prints:

- requests of compute_host_info for all hosts, per host;
- requests of a drain of the busiest host, per migrated server, by API;
- the drain's wall time against the sum of its migrations' own durations
  (the orchestration overhead), at concurrency 1 and at --concurrency.

Usage: . scripts/env.sh && python bench/host_requests.py [--concurrency 4] [--no-seed]
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, ".work", "collections"))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit", "plugins", "modules"))

import openstack  # noqa: E402
import module_runner  # noqa: E402  (tests/unit/plugins/modules: runs a module in-process)
from ansible_collections.fenix.maintenance.plugins.modules.compute_host_drain import ComputeHostDrainModule  # noqa: E402
from ansible_collections.fenix.maintenance.plugins.modules.compute_host_info import ComputeHostInfoModule  # noqa: E402

CLOUD_DIR = os.environ.get("FENIX_CLOUD_DIR", os.path.join(ROOT, ".cloud"))
PORTS = {"8774": "compute", "8778": "placement", "5000": "identity", "9696": "network", "9292": "image"}


def counting_connection():
    conn = openstack.connect(cloud="fenix-admin")
    counts = collections.Counter()
    counts.received = collections.Counter()  # response bytes by API, beside the request counts
    original = conn.session.request

    def request(url, method, *args, **kwargs):
        service = (kwargs.get("endpoint_filter") or {}).get("service_type")
        if service is None:  # an absolute URL: tell the API by its port
            port = url.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[-1]
            service = PORTS.get(port, port)
        counts[service] += 1
        response = original(url, method, *args, **kwargs)
        counts.received[service] += len(response.content or b"")
        return response

    conn.session.request = request
    return conn, counts


def run_module(module_class, args):
    """The module's result, the requests it made by API, and its wall time."""
    conn, counts = counting_connection()
    conn.compute.get("/")  # authenticate and discover versions outside the count
    conn.placement.get("/")
    counts.clear()
    counts.received.clear()
    started = time.monotonic()
    result = module_runner.run_module(module_class, dict(args, cloud="fenix-admin"), conn)
    if result["failed"]:
        raise SystemExit("module failed: %s" % result["msg"])
    return result, counts, time.monotonic() - started


CLOUDCTL = os.path.join(ROOT, "tests", "integration", "cloud", "cloudctl")


def seed(per_host: int) -> None:
    """Seed per_host servers on each host, with room to drain one host onto the others."""
    info, _counts, _wall = run_module(ComputeHostInfoModule, {"servers": False})
    hosts = len(info["hosts"])
    needed = per_host + -(-per_host // (hosts - 1))
    if min(host["resources"]["VCPU"]["capacity"] for host in info["hosts"]) < needed:
        print("restarting the test cloud with %d vCPUs per host" % needed)
        subprocess.run([CLOUDCTL, "stop"], check=True)
        subprocess.run([CLOUDCTL, "start"], check=True, env=dict(os.environ, FENIX_CLOUD_VCPUS=str(needed)))
    subprocess.run([CLOUDCTL, "seed"], check=True, env=dict(os.environ, FENIX_SEED_SERVERS_PER_HOST=str(per_host)))


def drain(host: str, concurrency: int):
    # One host: concurrency_per_host as high as the concurrency, so that it moves that many at a time.
    result, counts, wall = run_module(ComputeHostDrainModule, {
        "host": host, "concurrency": concurrency, "concurrency_per_host": concurrency, "poll_interval": 1,
        "reason": "bench"})
    conn = openstack.connect(cloud="fenix-admin")
    service = next(iter(conn.compute.services(binary="nova-compute", host=host)))
    conn.compute.enable_service(service)
    moved = result["moved"]
    own = sum(item["duration"] for item in moved)
    return moved, counts, wall, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--per-host", type=int, default=10)
    parser.add_argument("--no-seed", action="store_true", help="use the servers as they are (and do not re-seed between runs)")
    args = parser.parse_args()
    os.environ["OS_CLIENT_CONFIG_FILE"] = os.path.join(CLOUD_DIR, "clouds.yaml")
    if not args.no_seed:
        seed(args.per_host)

    info, counts, wall = run_module(ComputeHostInfoModule, {})
    hosts = info["hosts"]
    servers = sum(host["server_count"] for host in hosts)
    total = sum(counts.values())
    print("compute_host_info: %d hosts, %d servers: %d requests (%s), %.2f per host, %.2f s"
          % (len(hosts), servers, total, dict(counts), total / len(hosts), wall))

    walls = []
    for run, concurrency in enumerate((1, args.concurrency)):
        if run and not args.no_seed:
            seed(args.per_host)  # the same cloud and servers for both runs
        info, _counts, _wall = run_module(ComputeHostInfoModule, {"resources": False})
        busiest = max(info["hosts"], key=lambda host: host["server_count"])
        moved, counts, wall, own = drain(busiest["host"], concurrency)
        total = sum(counts.values())
        print("compute_host_drain concurrency=%d: %s, %d servers moved: %d requests (%s), %.2f per migrated server"
              % (concurrency, busiest["host"], len(moved), total, dict(counts), total / max(len(moved), 1)))
        print("  wall %.1f s, sum of migration durations %.1f s, wall/sum %.2f"
              % (wall, own, wall / own if own else float("nan")))
        walls.append(wall)
    print("drain wall time, concurrency %d against 1: %.2f" % (args.concurrency, walls[1] / walls[0]))


if __name__ == "__main__":
    main()
