#!/usr/bin/env python3
"""Start a maintenance the way Fenix's admin clients do (Doctor's admin tool, Fenix's own tests):
POST /v1/maintenance, then GET /v1/maintenance/{session_id} until MAINTENANCE_DONE or MAINTENANCE_FAILED.

    python examples/admin_client/fenix_admin.py --cloud fenix-admin --hosts compute1 compute2 \
        --session-id chg-1234 --metadata '{"openstack_release": "next"}'

The API is found in the Keystone catalog (service type ``maintenance``) unless --api-url is given; the
token is the cloud entry's (an admin's). One line per state change, then the summary and the URLs of
the run report. Exit status 0 for MAINTENANCE_DONE, 1 for MAINTENANCE_FAILED or a timeout, 2 for a
refused request.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Optional, Tuple

ENDED = ("MAINTENANCE_DONE", "MAINTENANCE_FAILED")


def call(method: str, url: str, token: str, body: Optional[dict] = None) -> Tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"X-Auth-Token": token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Start a maintenance with POST /v1/maintenance and follow it to its end.")
    parser.add_argument("--cloud", required=True, help="clouds.yaml entry of an admin")
    parser.add_argument("--api-url", help="the maintenance API ending in /v1 (default: the catalog's maintenance"
                                          " service)")
    parser.add_argument("--hosts", nargs="*", default=[], help="compute hosts (default: every one)")
    parser.add_argument("--session-id", help="the session's id (default: the service makes one)")
    parser.add_argument("--workflow", default="default")
    parser.add_argument("--metadata", type=json.loads, default={}, help="a JSON object for the projects")
    parser.add_argument("--actions", type=json.loads, help="a JSON list of upgrade plugins (Fenix's actions)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to follow the session")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between two GETs")
    return parser.parse_args(argv)


def follow(api_url: str, token: str, session_id: str, timeout: float, poll: float) -> str:
    """Print each state the session moves through; its last state."""
    started, state = time.monotonic(), None
    while time.monotonic() - started < timeout:
        status, body = call("GET", "%s/maintenance/%s" % (api_url, session_id), token)
        if status != 200:
            raise SystemExit("GET session %s: %d %s" % (session_id, status, body))
        if body["state"] != state:
            state = body["state"]
            reason = " (%s)" % body["reason"] if body.get("reason") else ""
            print("%6.1f s  %s%s" % (time.monotonic() - started, state, reason), flush=True)
        if state in ENDED:
            return state
        time.sleep(poll)
    print("still %s after %d s" % (state, timeout))
    return state


def print_summary(api_url: str, token: str, session_id: str) -> None:
    detail = call("GET", "%s/maintenance/%s/detail" % (api_url, session_id), token)[1]
    summary = detail.get("summary", {})
    maintained = summary.get("hosts_maintained", [])
    print("hosts_maintained: %d of %d (%s)" % (len(maintained), summary.get("hosts_total", 0), ", ".join(maintained)))
    print("moves: %s" % json.dumps(summary.get("moves", {}), sort_keys=True))
    for project_id, figures in sorted(summary.get("projects", {}).items()):
        decided = " (decided by the operator's policy %d times)" % figures["decided_by_policy"] \
            if figures.get("decided_by_policy") else ""
        print("project %s: %d replies, last %s%s" % (project_id, figures["replies"], figures.get("last_reply"), decided))
    if summary.get("total_seconds") is not None:
        print("session time: %.1f s" % summary["total_seconds"])
    run = detail.get("run") or {}
    if run:
        print("run: %s %s %s" % (run.get("launcher"), run.get("ident"), run.get("status")))
    for name, url in sorted((detail.get("report") or {}).items()):
        print("report (%s): %s" % (name, url))


def main(argv=None) -> int:
    import openstack  # the operator's OpenStack SDK: token and catalog
    args = parse_args(argv)
    conn = openstack.connect(cloud=args.cloud)
    token = conn.auth_token
    api_url = (args.api_url or conn.endpoint_for("maintenance") or "").rstrip("/")
    if not api_url:
        raise SystemExit("no --api-url and no maintenance service in the catalog of %s" % args.cloud)
    body = {"hosts": args.hosts, "state": "MAINTENANCE", "workflow": args.workflow, "metadata": args.metadata}
    if args.session_id:
        body["session_id"] = args.session_id
    if args.actions is not None:
        body["actions"] = args.actions
    status, created = call("POST", api_url + "/maintenance", token, body)
    if status != 200:
        print("POST %s/maintenance: %d %s" % (api_url, status, json.dumps(created)), file=sys.stderr)
        return 2
    session_id = created["session_id"]
    print("session %s started at %s" % (session_id, api_url), flush=True)
    state = follow(api_url, token, session_id, args.timeout, args.poll)
    print_summary(api_url, token, session_id)
    return 0 if state == "MAINTENANCE_DONE" else 1


if __name__ == "__main__":
    sys.exit(main())
