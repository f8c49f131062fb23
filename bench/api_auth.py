"""What the API's authentication costs: this tree against an earlier revision, with no cloud needed.

Keystone is tests/unit/keystone_server.py, a local stand-in that issues and
validates tokens over HTTP (the service logs in as its user, then validates
each caller's token with GET /v3/auth/tokens, as against a real Keystone), so
both revisions pay for real HTTP validations and differ only in their own code.
For this tree and for --before (a git revision, extracted with git archive):

- import: seconds to import api/app.py in a fresh interpreter (median of --imports);
- build: seconds for app.build() in keystone mode (median of --imports, each in a fresh interpreter);
- start: seconds from launching gunicorn (api/process.py, 1 worker) to its first answer;
- in-process latency (the WSGI application called directly, no HTTP): GET / (public, no token) and
  GET /v1/maintenance with an admin token whose validation is cached (the first request validates it);
  median and p99 of --requests requests, and Keystone validations counted;
- the same GET /v1/maintenance over HTTP to gunicorn (1 worker x --threads threads), sequential; then 64
  tokens, each validated once, used by 64 clients at once (5 requests each): the validations that burst
  caused again, per token.

Usage: . scripts/env.sh && python bench/api_auth.py [--before REV] [--after REV] [--requests 2000] [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit"))

from keystone_server import KeystoneServer  # noqa: E402
from revision import extract  # noqa: E402  (bench/: another revision's plugins, for --before)

TOKENS = {"admin-token": ("admin-project", ["admin", "member"])}
TOKENS.update({"burst-token-%02d" % index: ("admin-project", ["admin"]) for index in range(64)})
CLOUD = "bench"

# Runs in a fresh interpreter with one tree on its path: import and build, timed; then the in-process requests.
CHILD = r"""
import json, statistics, sys, time
began = time.perf_counter()
from ansible_collections.fenix.maintenance.plugins.module_utils.api import app as api_app
imported = time.perf_counter()
from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import LaunchSettings
config = api_app.ServiceConfig(journal=sys.argv[1], auth="keystone", cloud=sys.argv[2], launch=LaunchSettings(kind="none"))
application = api_app.build(config)[0]
built = time.perf_counter()
figures = {"import": imported - began, "build": built - imported}
if int(sys.argv[3]):
    from falcon import testing
    client = testing.TestClient(application)
    def timed(path, headers, count):
        latencies = []
        for _ in range(count):
            start = time.perf_counter()
            status = client.simulate_get(path, headers=headers).status_code
            latencies.append(time.perf_counter() - start)
            assert status == 200, status
        latencies.sort()
        return {"p50_ms": 1000 * statistics.median(latencies), "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))]}
    first = time.perf_counter()
    client.simulate_get("/v1/maintenance", headers={"X-Auth-Token": "admin-token"})
    figures["first_ms"] = 1000 * (time.perf_counter() - first)
    count = int(sys.argv[3])
    figures["public"] = timed("/", {}, count)
    figures["cached"] = timed("/v1/maintenance", {"X-Auth-Token": "admin-token"}, count)
print(json.dumps(figures))
"""


def child(collections: str, journal: str, requests: int, environ: dict) -> dict:
    env = dict(environ, PYTHONPATH=collections, PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", CHILD, journal, CLOUD, str(requests)], env=env, check=True,
                         capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout
    return json.loads(out.strip().splitlines()[-1])


def over_http(collections: str, journal: str, args, environ: dict, keystone: KeystoneServer, port: int) -> dict:
    sys.path.insert(0, os.path.join(ROOT, ".work", "collections"))
    import requests
    from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import LaunchSettings
    from ansible_collections.fenix.maintenance.plugins.module_utils.api.process import ApiSettings, start, stop
    settings = ApiSettings(collections_path=collections, run_dir=tempfile.mkdtemp(prefix="fenix-bench-auth-run-"),
                           journal=journal, bind="127.0.0.1:%d" % port, auth="keystone", cloud=CLOUD,
                           clouds_yaml=environ["OS_CLIENT_CONFIG_FILE"], workers=1, threads=args.threads,
                           launch=LaunchSettings(kind="none"))
    began = time.perf_counter()
    start(settings, timeout=60)
    figures = {"start": time.perf_counter() - began}
    try:
        http = requests.Session()
        url = settings.url + "/maintenance"
        assert http.get(url, headers={"X-Auth-Token": "admin-token"}).status_code == 200
        latencies = []
        for _request in range(args.requests // 4):
            start_time = time.perf_counter()
            assert http.get(url, headers={"X-Auth-Token": "admin-token"}).status_code == 200
            latencies.append(time.perf_counter() - start_time)
        latencies.sort()
        figures["http_cached"] = {"p50_ms": 1000 * statistics.median(latencies),
                                  "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))]}
        # Each token validated once (sequentially), then used by concurrent clients: the validations the
        # burst caused again, per token (0 when every thread of the worker sees one cache).
        tokens = [name for name in TOKENS if name.startswith("burst-")]
        for token in tokens:
            assert http.get(url, headers={"X-Auth-Token": token}).status_code == 200
        before = keystone.validations
        gate = threading.Barrier(len(tokens))

        def client(token):
            session = requests.Session()
            gate.wait()
            for _request in range(5):
                assert session.get(url, headers={"X-Auth-Token": token}).status_code == 200

        threads = [threading.Thread(target=client, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        figures["burst_validations_per_token"] = (keystone.validations - before) / len(tokens)
    finally:
        stop(settings)
    return figures


def measure(label: str, collections: str, args, environ: dict, keystone: KeystoneServer, port: int) -> dict:
    journal = os.path.join(tempfile.mkdtemp(prefix="fenix-bench-auth-journal-"), "journal.sqlite")
    imports = [child(collections, journal, 0, environ) for _run in range(args.imports)]
    figures = {"label": label, "import": statistics.median(run["import"] for run in imports),
               "build": statistics.median(run["build"] for run in imports)}
    validations = keystone.validations
    figures.update({key: value for key, value in child(collections, journal, args.requests, environ).items()
                    if key not in ("import", "build")})
    figures["in_process_validations"] = keystone.validations - validations
    figures.update(over_http(collections, journal, args, environ, keystone, port))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--before", help="git revision to compare with (default: none, this tree only)")
    parser.add_argument("--after", help="git revision to measure instead of the working tree")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--imports", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with KeystoneServer(TOKENS) as keystone:
        clouds_yaml = keystone.clouds_yaml(tempfile.mkdtemp(prefix="fenix-bench-auth-clouds-"), CLOUD)
        environ = dict(os.environ, OS_CLIENT_CONFIG_FILE=clouds_yaml)
        trees = [(args.after, extract(args.after)) if args.after else ("this tree", os.path.join(ROOT, ".work", "collections"))]
        if args.before:
            trees.insert(0, (args.before, extract(args.before)))
        results = [measure(label, collections, args, environ, keystone, 12371 + index)
                   for index, (label, collections) in enumerate(trees)]
    print(json.dumps(results, indent=1))
    print("\n%-12s %8s %8s %8s %9s %17s %17s %17s %6s %7s" % (
        "tree", "import s", "build s", "start s", "first ms", "GET / p50/p99", "cached p50/p99",
        "HTTP cached p50/p99", "valid.", "burst/t"))
    for row in results:
        print("%-12s %8.3f %8.3f %8.2f %9.1f %8.2f/%-8.2f %8.2f/%-8.2f %8.2f/%-8.2f %6d %7.2f" % (
            row["label"][:12], row["import"], row["build"], row["start"], row["first_ms"],
            row["public"]["p50_ms"], row["public"]["p99_ms"], row["cached"]["p50_ms"], row["cached"]["p99_ms"],
            row["http_cached"]["p50_ms"], row["http_cached"]["p99_ms"], row["in_process_validations"],
            row["burst_validations_per_token"]))


if __name__ == "__main__":
    main()
