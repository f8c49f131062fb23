"""The planner at scale: time and peak memory to plan a rolling maintenance of every host.

A synthetic cloud (no API calls; the planner is pure computation): 10,000 hosts
in 10 availability zones and 100 aggregates, 200,000 servers of four flavors
(a third of the vCPU in use, a sixth of the RAM, a fifth of the disk), 2,000
anti-affinity server groups of 4 members on distinct hosts, and 500 more
instance groups with max_impacted_members. Every host is planned,
max_parallel_hosts 100, max_unavailable 25% per zone and per aggregate, 4
migrations at once per source host and per target, the default max_fill.

Each size is measured in a process of its own, so its peak RSS is its own:
the plan is timed with nothing tracing it (wall and CPU time, the best of
--repeat), then planned once more under tracemalloc for the peak memory the
planning itself allocates (tracemalloc slows allocation about five times, so
its time is not the plan's), then once more under cProfile for the function
calls it makes. The baseline, measured in the same run, is the
same cloud at a tenth of the size: the time ratio for 10x the input shows how
the planner grows (about 10x means linear), the calls how its work grows
apart from the machine's memory (--sizes shows both per server over many
sizes). Planning time is also given
against the time to build the model in the same process (plain Python work
on the same input, garbage collector off as during planning), a ratio that
depends less on the machine and its load than seconds do.

How the plan spreads the load: replaying its moves, the fullest target at the
end (the fraction of its capacity in its fullest resource, and in vCPU), the
hosts at 90% vCPU or more and the empty ones at the end, and the most servers
one batch sends to one host.

--rounds N (default 3) times both sizes N times, alternating, each time in
fresh processes: the neighbours of a virtual machine change its speed by 5-15%
from one minute to the next, and a baseline timed a few seconds apart from
the large plan carries that into the ratio. The figures shown are the first
round's, with the best plan time of each size over the rounds; the growth is
the ratio of those bests, and each round's own ratio is printed beside it.

--before REV measures the planner of a git revision beside this tree's (its
plugins extracted with git archive), on the same clouds, --pairs times each,
alternating, so that both see the same load of the machine; the best of each
is shown, and the time ratio of each pair.

Usage: . scripts/env.sh && python bench/planner_scale.py [--hosts 10000] [--seed 1] [--repeat 1] [--rounds 3]
                                                        [--before REV [--pairs 3]] [--sizes 1000,2000,...]
       (--hosts 100000: 2,000,000 servers, baseline 10,000 hosts; about 2.5 minutes and 1.7 GB)
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from typing import List

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS = os.path.join(ROOT, ".work", "collections")
# A child process measuring another revision names its collections directory first.
if "--collections" in sys.argv:
    sys.path.insert(0, sys.argv[sys.argv.index("--collections") + 1])
else:
    sys.path.insert(0, COLLECTIONS)

from ansible_collections.fenix.maintenance.plugins.module_utils.planning.model import (  # noqa: E402
    CloudModel,
    GroupRule,
    HostModel,
    PlanSettings,
    ServerModel,
)
from ansible_collections.fenix.maintenance.plugins.module_utils.planning.planner import plan_maintenance  # noqa: E402
from revision import extract  # noqa: E402  (bench/: another revision's plugins, for --before)

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


# concurrency: the role's rolling_maintenance_concurrency, which its plan's estimate counts (waves run together).
SETTINGS = dict(max_parallel_hosts=100, max_unavailable_per_zone="25%", max_unavailable_per_aggregate="25%",
                migrations_per_host=4, incoming_per_host=4, concurrency=8)


def plan_settings() -> PlanSettings:
    """SETTINGS, less what the planner measured does not know (an older revision)."""
    known = getattr(PlanSettings, "__dataclass_fields__", {})
    return PlanSettings(**{key: value for key, value in SETTINGS.items() if key in known})


def cloud_of(hosts: int, seed: int) -> CloudModel:
    """The bench's cloud with ``hosts`` hosts: 20 servers, 0.2 anti-affinity groups, 0.05 instance groups per host."""
    return synthetic_cloud(hosts, hosts * 20, hosts // 5, hosts // 20, seed)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def fill_figures(model: CloudModel, plan) -> dict:
    """How full the plan leaves its targets: its moves replayed on the model's usage."""
    used = {name: [host.used.get("VCPU", 0), host.used.get("MEMORY_MB", 0), host.used.get("DISK_GB", 0)]
            for name, host in model.hosts.items()}
    servers = {server.id: server for server in model.servers}
    count = Counter(server.host for server in model.servers)
    targets = set()
    most_into_one = 0
    for batch in plan.batches:
        into = Counter()
        for wave in batch.waves:
            for move in wave:
                server = servers[move.server_id]
                need = (server.vcpus, server.ram_mb, server.disk_gb)
                used[move.from_host] = [have - amount for have, amount in zip(used[move.from_host], need)]
                count[move.from_host] -= 1
                if move.to_host is not None:
                    used[move.to_host] = [have + amount for have, amount in zip(used[move.to_host], need)]
                    count[move.to_host] += 1
                    targets.add(move.to_host)
                    into[move.to_host] += 1
        most_into_one = max([most_into_one] + list(into.values()))

    def fractions(name: str) -> list:
        capacity = model.hosts[name].capacity
        return [have / capacity[rc] for have, rc in zip(used[name], ("VCPU", "MEMORY_MB", "DISK_GB"))
                if capacity.get(rc)]

    return dict(
        max_target_fill=max((max(fractions(name)) for name in targets), default=0.0),
        max_target_vcpu=max((fractions(name)[0] for name in targets), default=0.0),
        hosts_vcpu_90=sum(1 for name in model.hosts if fractions(name)[0] >= 0.9),
        empty_hosts=sum(1 for name in model.hosts if count[name] == 0),
        most_into_one=most_into_one,
        over_fill=(getattr(plan, "over_fill", None) or {}).get("servers", 0),
    )


def measure(hosts: int, seed: int, repeat: int, time_only: bool = False) -> dict:
    """Figures of one size, measured in this process (run it in a fresh one); ``time_only``: the plan's time."""
    gc.disable()  # else its passes over the growing model make the build superlinear
    started = time.perf_counter()
    model = cloud_of(hosts, seed)
    build_s = time.perf_counter() - started
    gc.enable()
    settings = plan_settings()
    walls, cpus = [], []
    for _run in range(repeat):
        plan = None
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        plan = plan_maintenance(model, list(model.hosts), settings)
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    if time_only:
        return dict(hosts=hosts, plan_s=min(walls), plan_cpu_s=min(cpus))
    rss_plan = peak_rss_mb()
    started = time.perf_counter()
    as_dict = plan.as_dict()
    dict_s = time.perf_counter() - started
    rss_dict = peak_rss_mb()
    figures = dict(
        hosts=hosts, servers=len(model.servers), plan_s=min(walls), plan_cpu_s=min(cpus), build_s=build_s,
        dict_s=dict_s, rss_plan_mb=rss_plan, rss_dict_mb=rss_dict, batches=len(plan.batches),
        moves=as_dict["moves"], double_moves=plan.double_moves, blockers=len(plan.blockers),
        unplanned=len(plan.unplanned_hosts), largest_batch=max(plan.serial or [0]),
        waves=max((len(batch.waves) for batch in plan.batches), default=0),
        estimated_s=plan.estimated_seconds,
    )
    figures.update(fill_figures(model, plan))
    del as_dict, plan
    gc.collect()
    tracemalloc.start()
    plan_maintenance(model, list(model.hosts), settings)
    figures["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    figures["calls"] = counted_calls(model, settings)
    return figures


def counted_calls(model: CloudModel, settings: PlanSettings) -> int:
    """The function calls (Python and built-in) one plan makes, by cProfile: the interpreter's work, which the
    memory of the machine does not stretch as it does the time."""
    profile = cProfile.Profile()
    profile.runcall(plan_maintenance, model, list(model.hosts), settings)
    profile.create_stats()
    return sum(calls for _primitive, calls, _tottime, _cumtime, _callers in profile.stats.values())


def measure_apart(hosts: int, seed: int, repeat: int, collections: str = COLLECTIONS,
                  time_only: bool = False) -> dict:
    """measure() in a child process, so that each size has its own peak RSS."""
    command = [sys.executable, os.path.abspath(__file__), "--one", str(hosts), "--seed", str(seed),
               "--repeat", str(repeat), "--collections", collections] + (["--time-only"] if time_only else [])
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, universal_newlines=True,
                            cwd=tempfile.gettempdir()).stdout
    return json.loads(output)


def show(label: str, figures: dict) -> None:
    print("%-8s %7d hosts %8d servers: plan %6.3f s (CPU %6.3f s), plan/build %4.2f, as_dict %5.2f s;"
          " peak RSS %6.0f MB (%6.0f MB with as_dict), planning traced peak %6.1f MB"
          % (label, figures["hosts"], figures["servers"], figures["plan_s"], figures["plan_cpu_s"],
             figures["plan_s"] / figures["build_s"], figures["dict_s"], figures["rss_plan_mb"],
             figures["rss_dict_mb"], figures["traced_peak_mb"]))
    print("         %(batches)d batches (largest %(largest_batch)d), %(moves)d moves, %(double_moves)d moved twice,"
          " at most %(waves)d waves per batch, %(blockers)d blockers, %(unplanned)d hosts unplanned,"
          " estimate %(estimated_s).0f s" % figures)
    print("         fullest target %.1f%% (vCPU %.1f%%), %d hosts >= 90%% vCPU, %d empty, at most %d servers"
          " into one host in one batch, %d placed past max_fill"
          % (100 * figures["max_target_fill"], 100 * figures["max_target_vcpu"], figures["hosts_vcpu_90"],
             figures["empty_hosts"], figures["most_into_one"], figures["over_fill"]))


def compare(args) -> None:
    """The planner of --before and this tree's, alternating, --pairs times per size."""
    trees = [(args.before, extract(args.before)), ("this tree", COLLECTIONS)]
    for hosts in (args.hosts // 10, args.hosts):
        runs = {label: [] for label, _collections in trees}
        for _pair in range(args.pairs):
            for label, collections in trees:
                runs[label].append(measure_apart(hosts, args.seed, args.repeat, collections))
        for label, _collections in trees:
            best = min(runs[label], key=lambda figures: figures["plan_s"])
            show(label[:8], best)
            print("         plan times: %s s" % ", ".join("%.2f" % figures["plan_s"] for figures in runs[label]))
        before, after = runs[trees[0][0]], runs[trees[1][0]]
        print("ratio this tree / %s per pair at %d hosts: %s" % (args.before, hosts, ", ".join(
            "%.2f" % (new["plan_s"] / old["plan_s"]) for old, new in zip(before, after))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10000, help="hosts of the large case; the baseline has a tenth")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="time the plan this many times, keep the best")
    parser.add_argument("--before", help="git revision whose planner to measure beside this tree's")
    parser.add_argument("--pairs", type=int, default=3, help="with --before: runs of each, alternating")
    parser.add_argument("--sizes", help="comma-separated host counts: per size, time and calls per server")
    parser.add_argument("--rounds", type=int, default=3,
                        help="time both sizes this many times, alternating, in fresh processes (default 3)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # measure one size, print JSON (child process)
    parser.add_argument("--collections", default=COLLECTIONS, help=argparse.SUPPRESS)  # the child's planner
    parser.add_argument("--time-only", action="store_true", help=argparse.SUPPRESS)  # the child times the plan only
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.seed, args.repeat, args.time_only)))
        return
    if args.before:
        compare(args)
        return
    if args.sizes:
        sweep([int(size) for size in args.sizes.split(",")], args.seed, args.repeat)
        return
    base, large = grown(args)
    print("ratio large/baseline: input x%.0f, plan time x%.2f (CPU x%.2f), function calls x%.2f,"
          " planning traced peak x%.1f"
          % (large["servers"] / base["servers"], large["plan_s"] / base["plan_s"],
             large["plan_cpu_s"] / base["plan_cpu_s"], large["calls"] / base["calls"],
             large["traced_peak_mb"] / base["traced_peak_mb"]))


def grown(args) -> tuple:
    """The baseline's and the large cloud's figures, with the best plan time of --rounds rounds, alternating."""
    sizes = (args.hosts // 10, args.hosts)
    first = [measure_apart(hosts, args.seed, args.repeat) for hosts in sizes]
    rounds = [[figures["plan_s"] for figures in first]]
    cpus = [[figures["plan_cpu_s"] for figures in first]]
    for _round in range(1, args.rounds):
        timed = [measure_apart(hosts, args.seed, args.repeat, time_only=True) for hosts in sizes]
        rounds.append([figures["plan_s"] for figures in timed])
        cpus.append([figures["plan_cpu_s"] for figures in timed])
    for index, figures in enumerate(first):
        figures["plan_s"] = min(times[index] for times in rounds)
        figures["plan_cpu_s"] = min(times[index] for times in cpus)
    for label, figures in zip(("baseline", "large"), first):
        show(label, figures)
    if len(rounds) > 1:
        print("plan time per round: baseline %s s; large %s s; large/baseline %s" % (
            ", ".join("%.3f" % small for small, _large in rounds), ", ".join("%.3f" % large for _small, large in rounds),
            ", ".join("x%.2f" % (large / small) for small, large in rounds)))
    return first[0], first[1]


def sweep(sizes: List[int], seed: int, repeat: int) -> None:
    """Per size, the plan's time and function calls per server: flat calls with a rising time is the memory of
    the machine (caches, TLB) slowing each access as the model outgrows it, not more work per server."""
    print("   hosts   servers   plan s   us/server   calls/server")
    for hosts in sizes:
        figures = measure_apart(hosts, seed, repeat)
        print("%8d %9d %8.3f %11.2f %14.1f" % (hosts, figures["servers"], figures["plan_s"],
                                               1e6 * figures["plan_s"] / figures["servers"],
                                               figures["calls"] / figures["servers"]))


if __name__ == "__main__":
    main()
