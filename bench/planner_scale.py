"""The planner at scale: time and peak memory to plan a rolling maintenance of every host.

A synthetic cloud (no API calls; the planner is pure computation): 10,000 hosts
in 10 availability zones and 100 aggregates, 200,000 servers of four flavors
(about two thirds of the vCPU in use), 2,000 anti-affinity server groups of 4
members on distinct hosts, and 500 more instance groups with
max_impacted_members. Every host is planned, max_parallel_hosts 100 and
max_unavailable 25% per zone and per aggregate.

The baseline, planned in the same run, is the same cloud at a tenth of the
size (1,000 hosts, 20,000 servers, 200 anti-affinity groups); the ratios show
how the planner scales (10x the input: about 10x the time means linear).

Usage: . scripts/env.sh && python bench/planner_scale.py [--scale 1.0] [--seed 1]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
import tracemalloc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, ".work", "collections"))

from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import (  # noqa: E402
    CloudModel,
    GroupRule,
    HostModel,
    PlanSettings,
    ServerModel,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.planner import plan_maintenance  # noqa: E402

FLAVORS = [(1, 2048, 20), (2, 4096, 40), (4, 8192, 80), (8, 16384, 160)]
FLAVOR_WEIGHTS = [50, 30, 15, 5]


def synthetic_cloud(hosts: int, servers: int, aa_groups: int, impact_groups: int, seed: int) -> CloudModel:
    rng = random.Random(seed)
    names = ["cmp%05d" % index for index in range(hosts)]
    model_hosts = {}
    for index, name in enumerate(names):
        model_hosts[name] = HostModel(
            name=name,
            availability_zone="az%d" % (index % 10),
            aggregates=("agg%02d" % (index % 100),),
            # 64 cores at cpu_allocation_ratio 2, 512 GB RAM less 8 GB reserved, 4 TB disk.
            capacity={"VCPU": 128, "MEMORY_MB": 516096, "DISK_GB": 4000},
            used={"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0},
        )
    model_servers = []
    load = {name: 0 for name in names}

    def add(server_id: str, host: str, group_id=None, policy=None) -> None:
        vcpus, ram, disk = rng.choices(FLAVORS, FLAVOR_WEIGHTS)[0]
        model_servers.append(ServerModel(
            id=server_id, name="vm-" + server_id, project_id="p%03d" % rng.randrange(300), host=host,
            status="ACTIVE" if rng.random() < 0.9 else "SHUTOFF", vcpus=vcpus, ram_mb=ram, disk_gb=disk,
            group_id=group_id, group_policy=policy,
        ))
        used = model_hosts[host].used
        used["VCPU"] += vcpus
        used["MEMORY_MB"] += ram
        used["DISK_GB"] += disk
        load[host] += 1

    count = 0
    for group in range(aa_groups):
        for host in rng.sample(names, 4):
            add("s%07d" % count, host, "aa%05d" % group, "anti-affinity")
            count += 1
    groups = {}
    for group in range(impact_groups):
        groups["ig%05d" % group] = GroupRule("ig%05d" % group, max_impacted_members=rng.choice((1, 2, 3)),
                                             recovery_time=30)
    per_host = servers // hosts
    for name in names:
        while load[name] < per_host and count < servers:
            group = "ig%05d" % rng.randrange(impact_groups) if impact_groups and rng.random() < 0.1 else None
            add("s%07d" % count, name, group, "soft-anti-affinity" if group else None)
            count += 1
    while count < servers:
        add("s%07d" % count, rng.choice(names))
        count += 1
    return CloudModel(hosts=model_hosts, servers=model_servers, groups=groups)


def measure(label: str, hosts: int, servers: int, aa_groups: int, impact_groups: int, seed: int) -> dict:
    started = time.perf_counter()
    model = synthetic_cloud(hosts, servers, aa_groups, impact_groups, seed)
    built = time.perf_counter() - started
    settings = PlanSettings(max_parallel_hosts=100, max_unavailable_per_zone="25%",
                            max_unavailable_per_aggregate="25%", migrations_per_host=4)
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    plan = plan_maintenance(model, list(model.hosts), settings)
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.perf_counter()
    as_dict = plan.as_dict()
    dict_seconds = time.perf_counter() - started
    figures = dict(
        label=label, hosts=hosts, servers=servers, aa_groups=aa_groups, build_s=built, plan_s=elapsed,
        peak_mb=peak / 1e6, dict_s=dict_seconds, batches=len(plan.batches), moves=as_dict["moves"],
        double_moves=plan.double_moves, blockers=len(plan.blockers), unplanned=len(plan.unplanned_hosts),
        largest_batch=max(plan.serial or [0]), waves=max((len(b.waves) for b in plan.batches), default=0),
    )
    print("%(label)-9s %(hosts)6d hosts %(servers)7d servers %(aa_groups)5d aa groups: plan %(plan_s)6.2f s,"
          " peak %(peak_mb)7.1f MB (as_dict %(dict_s).2f s; model built in %(build_s).2f s)" % figures)
    print("          %(batches)d batches (largest %(largest_batch)d), %(moves)d moves, %(double_moves)d moved twice,"
          " at most %(waves)d waves per batch, %(blockers)d blockers, %(unplanned)d hosts unplanned" % figures)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="size of the big case (1.0: 10,000 hosts)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    big = int(10000 * args.scale)
    base = measure("baseline", big // 10, big * 2, big // 50, big // 200, args.seed)
    large = measure("large", big, big * 20, big // 5, big // 20, args.seed)
    print("ratio large/baseline: input x%.0f, time x%.1f, peak memory x%.1f"
          % (large["servers"] / base["servers"], large["plan_s"] / base["plan_s"], large["peak_mb"] / base["peak_mb"]))


if __name__ == "__main__":
    main()
