#!/usr/bin/env python
"""Kill anywhere: SIGKILL the whole rolling maintenance at random moments, resume it, and judge the end.

Each session is a full rolling maintenance of the test cloud (every compute
host, three reference VNFMs, the embedded API). Its run is killed with
SIGKILL to its whole process group ``--kills`` times, each time a random number
of seconds after that run started, and run again with the same session id;
the last run goes to its end. For each kill the script prints the task that
was running and the journal's last event; for each session the verdict:

- the session is MAINTENANCE_DONE;
- every host was maintained once (its host plugin DONE exactly once);
- no host is left disabled;
- every server is in the status it was seeded in;
- 0 anti-affinity and 0 max_impacted_members breaches of tenant-a's group,
  in the samples of Nova taken several times a second throughout.

A kill drawn for a moment after its run has already ended does not land, and ends its session.
On demand, 30 points (sessions of up to five kills until 30 landed), with the cloud running
(``tests/integration/cloud/cloudctl start``)::

    . scripts/env.sh && python tests/integration/chaos.py --points 30 --seed 1

CI runs one session of five fixed kills (tests/integration/test_chaos.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # run as a script: the tests' modules beside it
    sys.path.insert(0, HERE)

from conftest import ADMIN_CLOUD, CLOUDCTL, ROOT  # noqa: E402 (the tests' own modules, beside this file)
from test_rolling_maintenance import (  # noqa: E402
    ABORT,
    HOSTS,
    Run,
    Watcher,
    after_the_seed,
    check_samples,
    enabled_everywhere,
    host_plugin_runs,
    start_vnfms,
    stop_all,
    webhook_urls,
)

import openstack  # noqa: E402

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal  # noqa: E402

# The longest a run may take before it counts as hung (a full run takes one to three minutes here).
RUN_TIMEOUT = 900


@dataclass
class Kill:
    session_id: str
    number: int
    after: float  # seconds after its run started
    task: str  # the task running when it was killed ("" if the run had ended before)
    last_event: str
    ended_before: bool = False


@dataclass
class Verdict:
    session_id: str
    kills: List[Kill]
    seconds: float
    problems: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def running_task(log_path: str) -> str:
    """The last task ansible-playbook announced in its output."""
    task = ""
    with open(log_path, errors="replace") as handle:
        for line in handle:
            if line.startswith("TASK ["):
                task = line[len("TASK ["):].split("]", 1)[0]
    return task


def last_event(journal_path: str, session_id: str) -> str:
    try:
        events = Journal(journal_path).events(session_id)
    except Exception:  # pylint: disable=broad-except  # no journal or session yet: killed that early
        return "none yet"
    return events[-1]["kind"] if events else "none yet"


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the run and everything it started in its process group (workers, modules, the API it runs)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def run_with_kills(run: Run, session_id: str, delays: List[float]) -> List[Kill]:
    """Start the run; kill it after each delay (from that run's start) and start it again; let the last one end."""
    kills = []
    for number, delay in enumerate(delays, 1):
        process = run.start()
        started = time.monotonic()
        while process.poll() is None and time.monotonic() - started < delay:
            time.sleep(0.1)
        if process.poll() is not None:  # it ended before its kill: nothing left to kill
            run.log.close()
            kills.append(Kill(session_id, number, round(time.monotonic() - started, 1), "", "run ended",
                              ended_before=True))
            return kills
        kill_group(process)
        run.log.close()
        kills.append(Kill(session_id, number, round(delay, 1), running_task(run.log.name),
                          last_event(run.journal, session_id)))
        print("  kill %d of %s after %.1f s: task %r, last journal event %s"
              % (number, session_id, delay, kills[-1].task, kills[-1].last_event), flush=True)
    code, _output = run.run(timeout=RUN_TIMEOUT)
    if code != 0:
        print("  the last run of %s ended with %d; see %s" % (session_id, code, run.log.name), flush=True)
    return kills


def judge(run: Run, session_id: str, hosts: List[str], seeded: dict, samples: list, conn) -> List[str]:
    """What is wrong at the end, as Nova and the journal say it (empty: nothing)."""
    problems = []
    journal = Journal(run.journal)
    session = journal.session(session_id)
    if session.state != "MAINTENANCE_DONE":
        problems.append("session is %s: %s" % (session.state, session.reason))
    runs = host_plugin_runs(run.journal, session_id)
    if runs != {host: 1 for host in hosts}:
        problems.append("host plugins DONE per host: %s" % runs)
    if not enabled_everywhere(conn):
        problems.append("hosts left disabled: %s" % sorted(
            s.host for s in conn.compute.services(binary="nova-compute") if s.status != "enabled"))
    now = {s.id: s for s in conn.compute.servers(details=True, all_projects=True)}
    for server in seeded["servers"]:
        current = now.get(server["id"])
        if current is None or current.status != server["status"]:
            now_status = current.status if current else "gone"
            problems.append("server %s is %s, was %s" % (server["name"], now_status, server["status"]))
    group = {"id": seeded["server_groups"]["aa-group"]["id"],
             "members": [s["id"] for s in seeded["servers"] if s["group"] == "aa-group"]}
    try:
        check_samples(after_the_seed(samples, seeded), group, max_impacted=1, max_disabled=len(HOSTS))
    except AssertionError as exc:
        problems.append("rule broken in Nova's samples: %s" % exc)
    return problems


def chaos_session(workdir: str, session_id: str, delays: List[float], hosts: List[str] = tuple(HOSTS)) -> Verdict:
    """One freshly seeded cloud, one session of ``hosts`` killed at ``delays`` and resumed to its end, judged."""
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(os.environ.get("FENIX_CLOUD_DIR", os.path.join(ROOT, ".cloud")), "seed.json")) as handle:
        seeded = json.load(handle)
    conn = openstack.connect(cloud=ADMIN_CLOUD)
    vnfms = start_vnfms(workdir, seeded, {"tenant-a": "live_migrate", "tenant-b": "migrate", "tenant-c": "migrate"},
                        extra={"tenant-a": ["--group", "aa-group", "--max-impacted", "1", "--recovery-time", "1",
                                            # the run's own API (Run's bind): it sets them once that answers
                                            "--api-url", "http://127.0.0.1:12370/v1"]})
    run = Run(workdir, session_id, webhook_urls(seeded, vnfms), rolling_maintenance_reply_timeout=5,
              rolling_maintenance_renotify=0, rolling_maintenance_hosts=list(hosts),
              rolling_maintenance_actions=[{"plugin": "dummy", "type": "host", "metadata": {"seconds": 2}},
                                           {"plugin": "dummy", "type": "post"}])
    watcher = Watcher()
    watcher.start()
    started = time.monotonic()
    try:
        kills = run_with_kills(run, session_id, delays)
    finally:
        samples = watcher.stop()
        stop_all(vnfms)
    verdict = Verdict(session_id, kills, round(time.monotonic() - started, 1))
    verdict.problems = judge(run, session_id, list(hosts), seeded, samples, conn)
    if Journal(run.journal).session(session_id).state != "MAINTENANCE_DONE":
        run.run(playbook=ABORT)  # leave no host disabled for what comes next
    return verdict


def landed(verdicts: List[Verdict]) -> int:
    """The kills that hit a running run (not those drawn after their run had ended)."""
    return sum(1 for verdict in verdicts for kill in verdict.kills if not kill.ended_before)


def print_verdicts(verdicts: List[Verdict], wall: float) -> None:
    points = [kill for verdict in verdicts for kill in verdict.kills if not kill.ended_before]
    print("\n| session | kill | after (s) | task running | last journal event | verdict |")
    print("| --- | --- | --- | --- | --- | --- |")
    for verdict in verdicts:
        for kill in verdict.kills:
            print("| %s | %d | %.1f | %s | %s | %s |" % (
                verdict.session_id, kill.number, kill.after, kill.task or "(run had ended)", kill.last_event,
                "ok" if verdict.ok else "FAILED"))
    for verdict in verdicts:
        print("%s: %s in %.0f s%s" % (verdict.session_id, "ok" if verdict.ok else "FAILED", verdict.seconds,
                                      "".join("\n  - " + problem for problem in verdict.problems)))
    good = sum(1 for verdict in verdicts for kill in verdict.kills if not kill.ended_before and verdict.ok)
    print("kill points: %d, resumed to a correct end: %d; sessions %d of %d ok; wall time %.0f s"
          % (len(points), good, sum(v.ok for v in verdicts), len(verdicts), wall))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sessions", type=int, default=6, help="sessions, each on a freshly seeded cloud (default 6)")
    parser.add_argument("--kills", type=int, default=5, help="kills per session (default 5)")
    parser.add_argument("--points", type=int,
                        help="run sessions until this many kills landed (a kill drawn after its run ended does"
                             " not count, and ends its session); --sessions is then ignored")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the kill times (default 1)")
    parser.add_argument("--least", type=float, default=8.0,
                        help="the earliest kill, in seconds after its run started (default 8)")
    parser.add_argument("--most", type=float, default=90.0,
                        help="the latest kill, in seconds after its run started (default 90)")
    parser.add_argument("--hosts", nargs="+", default=HOSTS, help="the compute hosts to maintain (default all four)")
    parser.add_argument("--workdir", help="where journals and logs go (default: a new temporary directory)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    workdir = args.workdir or tempfile.mkdtemp(prefix="fenix-chaos-")
    if args.points:
        print("chaos: sessions of up to %d kills until %d landed, seed %d, logs in %s"
              % (args.kills, args.points, args.seed, workdir))
    else:
        print("chaos: %d sessions x %d kills, seed %d, logs in %s" % (args.sessions, args.kills, args.seed, workdir))
    started = time.monotonic()
    verdicts: List[Verdict] = []
    number = 0
    while landed(verdicts) < args.points if args.points else number < args.sessions:
        number += 1
        session_id = "chaos-%d-%d" % (args.seed, number)
        session_dir = os.path.join(workdir, session_id)
        os.makedirs(session_dir, exist_ok=True)
        kills = min(args.kills, args.points - landed(verdicts)) if args.points else args.kills
        delays = [round(rng.uniform(args.least, args.most), 1) for _kill in range(kills)]
        print("%s: kills after %s s" % (session_id, delays), flush=True)
        verdicts.append(chaos_session(session_dir, session_id, delays, args.hosts))
        verdict = verdicts[-1]
        # Each session's verdict as it ends: a sweep stopped part-way still tells what it found.
        print("%s: %s in %.0f s, %d kills landed%s" % (
            session_id, "ok" if verdict.ok else "FAILED", verdict.seconds, landed([verdict]),
            "".join("\n  - " + problem for problem in verdict.problems)), flush=True)
    print_verdicts(verdicts, time.monotonic() - started)
    return 0 if all(verdict.ok for verdict in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
