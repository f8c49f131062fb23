"""Replies per second and latency of the project API, SQLite journal against PostgreSQL.

Runs the API service as the maintenance_api module does (gunicorn, gthread)
with Keystone auth against the running test cloud, on loopback. For each
journal backend: one session, --projects projects asked about
PLANNED_MAINTENANCE with 5 instances each; then, --rounds times, every project
is asked again and all of them answer at once (one thread per project, each
with a keep-alive connection), PUT /v1/maintenance/{sid}/{pid} with an ACK and
an action per instance. Every reply is a committed journal write.

The baseline, measured in the same run on the same service, is
GET / (no token, no journal) at the same concurrency: the cost of HTTP and
gunicorn alone. Token validations are cached: the replies carry the admin's
token (an admin may answer for any project), so Keystone is asked once per
worker; per-project tokens would add one validation per project and worker.

The PostgreSQL server of tests/pg (started here when needed) runs with
fsync=off for the tests; this bench turns fsync on for its run (and back
off) so both backends pay for durable commits.

Usage: . scripts/env.sh && python bench/api_replies.py [--projects 100] [--rounds 10] [--workers 2] [--threads 16]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import openstack
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, ".work", "collections"))

from ansible_collections.fenix.maintenance.plugins.module_utils.api.process import ApiSettings, start, stop  # noqa: E402
from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal  # noqa: E402

CLOUD_DIR = os.environ.get("FENIX_CLOUD_DIR", os.path.join(ROOT, ".cloud"))
STATE = "PLANNED_MAINTENANCE"
ACTIONS = ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def burst(count, make_request):
    """``count`` threads each send one request at once; (wall seconds, latencies, statuses)."""
    sessions = [requests.Session() for _thread in range(count)]
    latencies, statuses = [0.0] * count, [0] * count
    gate = threading.Barrier(count + 1)

    def worker(index):
        gate.wait()
        began = time.perf_counter()
        statuses[index] = make_request(sessions[index], index).status_code
        latencies[index] = time.perf_counter() - began

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies, statuses


def measure(label, rounds, projects, prepare, make_request):
    wall, latencies, failures = 0.0, [], 0
    for _round in range(rounds):
        prepare()
        seconds, lat, statuses = burst(projects, make_request)
        wall += seconds
        latencies += lat
        failures += sum(1 for status in statuses if status != 200)
    return {"label": label, "requests": len(latencies), "per_second": len(latencies) / wall,
            "p50_ms": 1000 * statistics.median(latencies), "p99_ms": 1000 * percentile(latencies, 0.99),
            "failures": failures}


def run_backend(label, journal_location, args, token, port):
    run_dir = tempfile.mkdtemp(prefix="fenix-bench-api-")
    settings = ApiSettings(collections_path=os.path.join(ROOT, ".work", "collections"), run_dir=run_dir,
                           journal=journal_location, bind="127.0.0.1:%d" % port, auth="keystone",
                           cloud="fenix-admin", clouds_yaml=os.path.join(CLOUD_DIR, "clouds.yaml"),
                           workers=args.workers, threads=args.threads)
    start(settings, timeout=60)
    try:
        journal = Journal(journal_location)
        session = journal.create_session(["compute1"]).session_id
        projects = ["bench-project-%03d" % i for i in range(args.projects)]
        instances = {p: [str(uuid.uuid4()) for _instance in range(5)] for p in projects}

        def ask_everyone():
            with journal.transaction():
                for project in projects:
                    journal.notify_project(session, project, STATE, instance_ids=instances[project],
                                           allowed_actions=ACTIONS)

        url = settings.url
        headers = {"X-Auth-Token": token, "Content-Type": "application/json"}

        def reply(http, index):
            project = projects[index]
            body = {"state": "ACK_" + STATE,
                    "instance_actions": {i: ACTIONS[n % 3] for n, i in enumerate(instances[project])}}
            return http.put("%s/maintenance/%s/%s" % (url, session, project), json=body, headers=headers)

        def version(http, index):
            return http.get(url.rsplit("/v1", 1)[0] + "/")

        measure("warm-up", 1, args.projects, ask_everyone, reply)
        baseline = measure("GET / (baseline)", args.rounds, args.projects, lambda: None, version)
        replies = measure("PUT reply", args.rounds, args.projects, ask_everyone, reply)
        answered = sum(1 for p in journal.projects(session) if p.reply == "ACK_" + STATE)
        assert answered == args.projects, "only %d of %d replies are in the journal" % (answered, args.projects)
        return baseline, replies
    finally:
        stop(settings)


def postgres_database():
    """A fresh database on the tests' PostgreSQL server, with fsync on for the run; (dsn, cleanup)."""
    import psycopg
    subprocess.run([os.path.join(ROOT, "tests", "pg", "pgctl"), "start"], check=True, stdout=subprocess.DEVNULL)
    admin_dsn = subprocess.run([os.path.join(ROOT, "tests", "pg", "pgctl"), "dsn"], check=True,
                               capture_output=True, text=True).stdout.strip()
    name = "fenix_bench_%d" % int(time.time())
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute("CREATE DATABASE %s" % name)
        admin.execute("ALTER SYSTEM SET fsync = on")
        admin.execute("SELECT pg_reload_conf()")

    def cleanup():
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
            admin.execute("ALTER SYSTEM RESET fsync")
            admin.execute("SELECT pg_reload_conf()")

    return admin_dsn.rsplit("/", 1)[0] + "/" + name, cleanup


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    os.environ["OS_CLIENT_CONFIG_FILE"] = os.path.join(CLOUD_DIR, "clouds.yaml")
    token = openstack.connect(cloud="fenix-admin").auth_token

    results = []
    sqlite_dir = tempfile.mkdtemp(prefix="fenix-bench-journal-")
    results.append(("SQLite",) + run_backend("SQLite", os.path.join(sqlite_dir, "journal.sqlite"), args, token, 12361))
    dsn, cleanup = postgres_database()
    try:
        results.append(("PostgreSQL",) + run_backend("PostgreSQL", dsn, args, token, 12362))
    finally:
        cleanup()

    print("\n%d projects answering at once, %d rounds, gunicorn %d workers x %d threads, loopback"
          % (args.projects, args.rounds, args.workers, args.threads))
    header = ("journal", "request", "requests", "per second", "p50 ms", "p99 ms", "non-200")
    print("%-11s %-17s %9s %10s %8s %8s %8s" % header)
    for backend, baseline, replies in results:
        for row in (baseline, replies):
            figures = (backend, row["label"], row["requests"], row["per_second"], row["p50_ms"], row["p99_ms"],
                       row["failures"])
            print("%-11s %-17s %9d %10.0f %8.1f %8.1f %8d" % figures)
        print("%-11s replies/s against the baseline: %.2f" % (backend, replies["per_second"] / baseline["per_second"]))
    sqlite_rate, pg_rate = results[0][2]["per_second"], results[1][2]["per_second"]
    print("PostgreSQL replies/s against SQLite: %.2f" % (pg_rate / sqlite_rate))


if __name__ == "__main__":
    main()
