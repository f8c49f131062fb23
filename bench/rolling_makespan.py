"""Makespan of the rolling maintenance: the planner's parallel batches against one host at a time.

Runs playbooks/rolling_maintenance.yml twice on the running test cloud, each
time on a freshly seeded cloud (same hosts, same servers, same anti-affinity
group), with three reference VNFMs answering (tenant-a LIVE_MIGRATE with its
group's constraints, tenant-b MIGRATE, tenant-c LIVE_MIGRATE):

- baseline: max_parallel_hosts 1, one host at a time (what Fenix does);
- planner: batches as large as the rules allow, up to --parallel hosts;
- with --ramp-up, a third run: the planner with rolling_maintenance_ramp_up (first batches of 1, 2, 4, ... hosts).

Prints each run's wall time, the session's own total time, the plan's
estimate beside it (the role's "Show the plan", with the estimates this bench
gives: 5 s of plugin per host), the run report's wall / busy time (busy: a
migration, a plugin or a health gate running) and where the rest went
(waiting for projects, other), and the ratio planner / baseline.

The seeded anti-affinity group has 3 members on compute1..3: with 4 computes
no two of those hosts may be down together, so batches stay single hosts.
Start the cloud with more computes to let the planner show what it does:

    FENIX_CLOUD_COMPUTES=6 tests/integration/cloud/cloudctl start
    . scripts/env.sh && python bench/rolling_makespan.py --parallel 3 [--pairs 3] [--ramp-up] [--before REV]

A run's time varies by several seconds on a small machine: --pairs N runs
N pairs one after the other and prints every run, each pair's ratio and their
median.

Every run keeps to one journal, as an operator's runs do: the first run's
estimate has the defaults (and the 10 s of host work this bench gives), every
later one learns from the runs before it - the moves' durations, a batch's
overhead and the session's start and end (maintenance_plan's
learned_estimates). The estimate / session column shows both.

--before REV runs the role, playbook and plugins of a git revision (git archive)
beside this tree's on the same cloud, pair after pair, alternating which goes
first; each tree keeps a journal of its own. It prints both trees' runs and
their ratios pair by pair, and the planner's time outside moves, plugins and
gates (session less busy).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS = os.path.join(ROOT, ".work", "collections")
sys.path.insert(0, COLLECTIONS)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import openstack  # noqa: E402
from revision import extract  # noqa: E402  (bench/: another revision's collection, for --before)
from vnfm_process import VnfmProcess  # noqa: E402  (tests/integration: a reference VNFM as a process)

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal  # noqa: E402
from ansible_collections.fenix.maintenance.plugins.module_utils.report.build import build_report  # noqa: E402
from ansible_collections.fenix.maintenance.plugins.module_utils.workflow.session import session_summary  # noqa: E402

CLOUD_DIR = os.environ.get("FENIX_CLOUD_DIR", os.path.join(ROOT, ".cloud"))
CLOUDCTL = os.path.join(ROOT, "tests", "integration", "cloud", "cloudctl")
# What a run of another revision needs of it: the playbook, the role and what they call.
COLLECTION_PARTS = ("plugins", "roles", "playbooks", "meta")
POLICIES = {"tenant-a": ["--policy", "live_migrate", "--group", "aa-group", "--max-impacted", "1"],
            "tenant-b": ["--policy", "migrate"], "tenant-c": ["--policy", "live_migrate"]}


def run_once(label: str, parallel: int, workdir: str, computes: int, ramp_up: bool = False,
             collections: str = COLLECTIONS) -> dict:
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(CLOUD_DIR, "seed.json")) as handle:
        seed = json.load(handle)
    api_url = "http://127.0.0.1:12371/v1"
    vnfms = {name: VnfmProcess(workdir, 12390 + index, *options, "--api-url", api_url, cloud="fenix-" + name)
             for index, (name, options) in enumerate(sorted(POLICIES.items()))}
    session_id = "bench-%s-%d" % (label, int(time.time()))
    journal = os.path.join(workdir, "journal.sqlite")
    settings = {
        "rolling_maintenance_session_id": session_id,
        "rolling_maintenance_cloud": "fenix-admin",
        "rolling_maintenance_journal": journal,
        "rolling_maintenance_api_bind": "127.0.0.1:12371",
        "rolling_maintenance_api_run_dir": os.path.join(workdir, "api"),
        "rolling_maintenance_webhook": {"urls": {seed["projects"][name]: vnfm.url for name, vnfm in vnfms.items()}},
        "rolling_maintenance_reply_timeout": 30,
        "rolling_maintenance_max_parallel_hosts": parallel,
        "rolling_maintenance_ramp_up": ramp_up,
        "rolling_maintenance_max_unavailable": {"availability_zone": "50%", "aggregate": "50%"},
        "rolling_maintenance_actions": [{"plugin": "dummy", "type": "host", "metadata": {"seconds": 5}}],
        # What a host's batch takes on the test cloud: its 5 s plugin and the health gate. The moves' durations
        # come from the journal: the second run's plan learns them from the first run's moves.
        "rolling_maintenance_estimates": {"host_seconds": 10, "migrations_per_host": 2},
    }
    settings_file = os.path.join(workdir, "%s.json" % label)
    with open(settings_file, "w") as handle:
        json.dump(settings, handle)
    inventory = os.path.join(workdir, "inventory.ini")
    with open(inventory, "w") as handle:
        handle.write("".join("compute%d ansible_connection=local ansible_python_interpreter=%s\n"
                             % (index, sys.executable) for index in range(1, computes + 1)))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections,
               OS_CLIENT_CONFIG_FILE=os.path.join(CLOUD_DIR, "clouds.yaml"),
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, "bench", "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="task_times",
               FENIX_BENCH_TASK_TIMES=os.path.join(workdir, "%s.tasks.json" % label))
    started = time.monotonic()
    try:
        with open(os.path.join(workdir, "%s.log" % label), "w") as log:
            playbook = os.path.join(collections, "ansible_collections", "fenix", "maintenance", "playbooks",
                                    "rolling_maintenance.yml")
            code = subprocess.run(["ansible-playbook", "-i", inventory, playbook,
                                   "-e", "@" + settings_file], stdout=log, stderr=subprocess.STDOUT, env=env,
                                  check=False).returncode
    finally:
        for vnfm in vnfms.values():
            vnfm.stop()
    wall = time.monotonic() - started
    if code != 0:
        raise SystemExit("%s run failed (rc %d); see %s/%s.log" % (label, code, workdir, label))
    record = Journal(journal)
    summary = session_summary(record, record.session(session_id))
    with open(os.path.join(workdir, "%s.log" % label)) as log:
        estimate = re.search(r'"estimated_seconds": "?([0-9.]+)', log.read())
    return {"label": label, "wall": wall, "session": summary["total_seconds"], "moves": summary["moves"],
            "hosts": summary["hosts_maintained"], "estimate": float(estimate.group(1)) if estimate else None,
            "spent": build_report(record, session_id)["time_spent"],
            "tasks": task_totals(os.path.join(workdir, "%s.tasks.json" % label))}


def task_totals(path: str) -> list:
    """(task, times run, seconds) per task name, the longest first: where the run's time went between tasks."""
    with open(path) as handle:
        tasks = json.load(handle)
    totals: dict = {}
    for task in tasks:
        count, seconds = totals.get(task["task"], (0, 0.0))
        totals[task["task"]] = (count + 1, seconds + task["seconds"])
    return sorted(((name, count, seconds) for name, (count, seconds) in totals.items()), key=lambda row: -row[2])


def print_rows(rows: list) -> None:
    headings = ("run", "wall s", "session s", "estimate s", "est/sess", "wall/busy", "asking s", "other s", "moves")
    print("%-18s %9s %11s %10s %9s %10s %9s %8s  %s" % headings)
    for row in rows:
        spent = row["spent"]
        ratio = "%9.2f" % (row["estimate"] / row["session"]) if row["estimate"] and row["session"] else "%9s" % "-"
        print("%-18s %9.1f %11.1f %10s %s %10s %9.1f %8.1f  %s" % (
            row["label"], row["wall"], row["session"], row["estimate"] if row["estimate"] is not None else "-", ratio,
            spent["wall_per_busy"], spent["waiting_for_projects"], spent["other"], row["moves"]))


def print_tasks(rows: list) -> None:
    for row in rows:
        print("\n%s: the longest tasks (start to the next task's start; %d tasks in all, %.1f s)"
              % (row["label"], sum(count for _name, count, _seconds in row["tasks"]),
                 sum(seconds for _name, _count, seconds in row["tasks"])))
        for name, count, seconds in row["tasks"][:15]:
            print("  %7.1f s %4dx  %s" % (seconds, count, name[:90]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--parallel", type=int, default=3, help="max_parallel_hosts of the planner run (default 3)")
    parser.add_argument("--pairs", type=int, default=1,
                        help="pairs of runs, one after the other (default 1)")
    parser.add_argument("--ramp-up", action="store_true",
                        help="a third run in each pair: the planner with rolling_maintenance_ramp_up")
    parser.add_argument("--before", help="git revision whose role and plugins to run beside this tree's, alternating")
    args = parser.parse_args()
    os.environ["OS_CLIENT_CONFIG_FILE"] = os.path.join(CLOUD_DIR, "clouds.yaml")
    if not os.path.exists(os.environ["OS_CLIENT_CONFIG_FILE"]) and subprocess.run(
            [CLOUDCTL, "seed"], stdout=subprocess.DEVNULL, check=False).returncode != 0:
        # cloudctl writes clouds.yaml when it seeds (every run seeds again anyway); a fresh checkout has none.
        raise SystemExit("no clouds.yaml in %s, and seeding failed: start the test cloud first "
                         "(FENIX_CLOUD_COMPUTES=6 tests/integration/cloud/cloudctl start)" % CLOUD_DIR)
    computes = len(list(openstack.connect(cloud="fenix-admin").compute.services(binary="nova-compute")))
    trees = [("this tree", COLLECTIONS)]
    if args.before:
        trees.insert(0, (args.before, extract(args.before, COLLECTION_PARTS)))
    suffixes = [" #%d" % index if args.pairs > 1 else "" for index in range(1, args.pairs + 1)]
    pairs, parents = run_pairs(trees, args, computes, suffixes)
    for label, _collections in trees:
        print("\n%s: rolling maintenance of %d computes, %s (logs in %s)"
              % (label, computes, "same seed for every run", parents[label]))
        report_pairs(pairs[label], suffixes, with_tasks=label == "this tree")
    if args.before:
        for label, _collections in trees:
            print("%s: planner / one at a time per pair %s; the planner's session less busy %s" % (label, ", ".join(
                "%.3f" % (pair[1]["session"] / pair[0]["session"]) for pair in pairs[label]), ", ".join(
                "%.1f s" % (pair[1]["session"] - pair[1]["spent"]["busy"]) for pair in pairs[label])))


def run_pairs(trees: list, args, computes: int, suffixes: list):
    """Per tree, its pairs of runs (one at a time, planner[, ramp-up]) and the directory of its journal and logs;
    the trees take turns, the first of a pair alternating."""
    parents = {label: tempfile.mkdtemp(prefix="fenix-bench-makespan-") for label, _collections in trees}
    pairs: dict = {label: [] for label, _collections in trees}
    for index, suffix in enumerate(suffixes, 1):
        # The files of a run of a later pair are named apart; the rows carry the pair as " #N".
        named = (lambda label: "%s-%d" % (label, index)) if suffix else (lambda label: label)
        for label, collections in (trees if index % 2 else trees[::-1]):
            parent = parents[label]
            runs = [run_once(named("one-at-a-time"), 1, parent, computes, collections=collections),
                    run_once(named("planner"), args.parallel, parent, computes, collections=collections)]
            if args.ramp_up:
                runs.append(run_once(named("planner-ramp-up"), args.parallel, parent, computes, ramp_up=True,
                                     collections=collections))
            for run, kind in zip(runs, ("one-at-a-time", "planner", "planner-ramp-up")):
                run["label"] = kind + suffix
            pairs[label].append(tuple(runs))
    return pairs, parents


def report_pairs(pairs: list, suffixes: list, with_tasks: bool) -> None:
    print_rows([row for pair in pairs for row in pair])
    ratios = sorted((pair[1]["session"] / pair[0]["session"], index) for index, pair in enumerate(pairs))
    median_ratio, median_index = ratios[len(ratios) // 2]
    if with_tasks:
        print_tasks(pairs[median_index])
    for suffix, (baseline, *planners) in zip(suffixes, pairs):
        for planner in planners:
            print("%s / one at a time%s: wall %.2f, session %.2f" % (
                planner["label"].replace(suffix, "") if suffix else planner["label"], suffix,
                planner["wall"] / baseline["wall"], planner["session"] / baseline["session"]))
    if len(pairs) > 1:
        print("median of %d pairs (session): %.2f%s" % (
            len(pairs), median_ratio, "; the tasks above are that pair's" if with_tasks else ""))
    print_estimates([row for pair in pairs for row in pair])


def print_estimates(rows: list) -> None:
    """The estimate against the session: the first run's, from the defaults, and the later ones', learnt."""
    ratios = [row["estimate"] / row["session"] for row in rows if row["estimate"] and row["session"]]
    if len(ratios) != len(rows):
        return
    print("estimate / session: first run (the defaults) %.2f" % ratios[0], end="")
    if len(ratios) > 1:
        learnt = sorted(ratios[1:])
        print("; the %d later runs (learnt from the journal) %.2f-%.2f, median %.2f"
              % (len(learnt), learnt[0], learnt[-1], learnt[len(learnt) // 2]), end="")
    print()


if __name__ == "__main__":
    main()
