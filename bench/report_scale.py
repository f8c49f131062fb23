"""The run report at scale: the time to build a session's report from its journal.

A synthetic finished session (no cloud needed): every host disabled, 5
servers moved off it, its plugin run, enabled again and maintained, 50
projects asked and answering; the journal's own clock stamps each write. Its
report (report/build.py's build_report, what the role writes at the end of
every run and what maintenance_plan reads the latest sessions' batches from)
is timed, the best of --repeat, against the same session at a tenth of the
size as baseline in the same run: about 10x means the report grows with the
session, not with its square.

--before REV builds the reports of a git revision's plugins beside this
tree's, on the same journals, each in a process of its own.

Usage: . scripts/env.sh && python bench/report_scale.py [--hosts 10000] [--repeat 3] [--before REV]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS = os.path.join(ROOT, ".work", "collections")
# A child process measuring another revision names its collections directory first.
sys.path.insert(0, sys.argv[sys.argv.index("--collections") + 1] if "--collections" in sys.argv else COLLECTIONS)

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal  # noqa: E402
from ansible_collections.fenix.maintenance.plugins.module_utils.report.build import build_report  # noqa: E402

SERVERS_PER_HOST = 5
PROJECTS = 50


def finished_session(path: str, hosts: int) -> None:
    """A journal at ``path`` with one finished session of ``hosts`` hosts, written in one transaction."""
    journal = Journal(path)
    names = ["compute%05d" % index for index in range(hosts)]
    with journal.transaction():
        journal.create_session(names, session_id="bench")
        for index in range(PROJECTS):
            journal.notify_project("bench", "p%d" % index, "MAINTENANCE")
            journal.record_reply("bench", "p%d" % index, "ACK_MAINTENANCE")
        for name in names:
            journal.set_host("bench", name, state="DISABLED", disabled_by_session=True)
            for server in range(SERVERS_PER_HOST):
                move_id = journal.start_move("bench", "%s-vm%d" % (name, server), "p%d" % (server % PROJECTS),
                                             "LIVE_MIGRATE", name, "elsewhere")
                journal.finish_move(move_id, True, "elsewhere")
            journal.set_host("bench", name, state="IN_MAINTENANCE")
            journal.finish_action(journal.start_action("bench", "dummy", "host", name), True, {})
            journal.set_host("bench", name, state="MAINTAINED", disabled_by_session=False, maintained=True)
        journal.set_session_state("bench", "MAINTENANCE_DONE")
    journal.close()


def measure(path: str, repeat: int) -> dict:
    """The best time of ``repeat`` reports of the journal's session, in this process."""
    journal = Journal(path)
    times = []
    for _run in range(repeat):
        started = time.perf_counter()
        report = build_report(journal, "bench")
        times.append(time.perf_counter() - started)
    return {"seconds": min(times), "events": len(journal.events("bench")), "moves": len(report["moves"]),
            "batches": len(report["batches"])}


def measure_apart(path: str, repeat: int, collections: str) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--one", path, "--repeat", str(repeat),
               "--collections", collections]
    return json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10000, help="hosts of the large session; the baseline has a tenth")
    parser.add_argument("--repeat", type=int, default=3, help="reports per size, the best counts (default 3)")
    parser.add_argument("--before", help="a git revision whose report is built beside this tree's")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child: measure this journal and print JSON
    parser.add_argument("--collections", default=COLLECTIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.repeat)))
        return
    trees = [("this tree", COLLECTIONS)]
    if args.before:
        from revision import extract  # pylint: disable=import-outside-toplevel
        trees.insert(0, (args.before, extract(args.before)))
    directory = tempfile.mkdtemp(prefix="fenix-bench-report-")
    figures = {}
    for hosts in (args.hosts // 10, args.hosts):
        path = os.path.join(directory, "journal-%d.sqlite" % hosts)
        started = time.perf_counter()
        finished_session(path, hosts)
        print("%6d hosts: journal written in %.1f s" % (hosts, time.perf_counter() - started))
        for label, collections in trees:
            result = figures[(label, hosts)] = measure_apart(path, args.repeat, collections)
            print("%-10s %6d hosts, %7d events, %7d moves, %5d batches: report %7.2f s"
                  % (label[:10], hosts, result["events"], result["moves"], result["batches"], result["seconds"]))
    for label, _collections in trees:
        small, large = figures[(label, args.hosts // 10)], figures[(label, args.hosts)]
        print("%s: input x10, report time x%.1f" % (label, large["seconds"] / small["seconds"]))
    if args.before:
        print("this tree / %s at %d hosts: %.2f" % (args.before, args.hosts, figures[("this tree", args.hosts)][
            "seconds"] / figures[(args.before, args.hosts)]["seconds"]))


if __name__ == "__main__":
    main()
