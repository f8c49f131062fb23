# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""The command line: options, then connect, set the constraints, listen, and stop on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import List, Optional, Tuple

from .bus import BusConsumer
from .client import MaintenanceApi
from .cloud import Cloud
from .eventlog import EventLog
from .manager import Vnfm
from .protocol import POLICY_KINDS, WORKFLOWS, ConstraintOptions, PolicyBook, PolicyError
from .webhook import WebhookServer


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Reference VNFM for the Fenix Host Maintenance API v1.")
    parser.add_argument("--cloud", required=True, help="clouds.yaml entry of the project's user")
    parser.add_argument("--listen", help="HOST:PORT of the webhook (the URL of the AODH alarm's alarm_actions)")
    parser.add_argument("--bus", metavar="TRANSPORT_URL", help="consume notifications from the cloud's RabbitMQ")
    parser.add_argument("--exchange", default="openstack", help="bus exchange (default: openstack)")
    parser.add_argument("--topic", default="notifications", help="bus topic (default: notifications)")
    parser.add_argument("--policy", default="live_migrate",
                        help="how to answer: %s, optionally ,late=SECONDS; or late=SECONDS (default: live_migrate)"
                        % " | ".join(POLICY_KINDS))
    parser.add_argument("--state-policy", action="append", default=[], metavar="STATE=POLICY",
                        help="policy for one state, e.g. SCALE_IN=nack (repeatable)")
    parser.add_argument("--per-instance", action="store_true",
                        help="answer each instance with PUT .../{instance_id} instead of one project answer")
    parser.add_argument("--workflow", choices=WORKFLOWS, default="default",
                        help="vnf: Fenix's VNF workflow, as Doctor's and Tacker's VNFMs speak it; each"
                             " PREPARE_MAINTENANCE and PLANNED_MAINTENANCE lists the one instance asked about"
                             " (instance_ids[0]) and allowed_actions, and is answered on its reply_url with"
                             " that instance's migration_type (default: default)")
    parser.add_argument("--api-url", help="the maintenance API ending in /v1 (default: the catalog's maintenance"
                                          " service); needed for --group only, answers go to reply_url")
    parser.add_argument("--group", help="Nova server group whose constraints to set at start")
    parser.add_argument("--max-impacted", type=int, default=1, help="max_impacted_members of the group (default 1)")
    parser.add_argument("--recovery-time", type=int, default=4, help="seconds a member needs after a move (default 4)")
    parser.add_argument("--max-interruption", type=int, default=120, help="max_interruption_time per instance (s)")
    parser.add_argument("--lead-time", type=int, default=0, help="seconds of notice an instance needs")
    parser.add_argument("--vnf-group", metavar="NAME",
                        help="also set a Fenix instance group of the VNF's own (no Nova server group): the last member"
                             " of --group and the servers in no group, with the same constraints")
    parser.add_argument("--resource-mitigation", action="store_true", help="the VNF may run with fewer instances")
    parser.add_argument("--scale-in-delete", type=int, default=0, metavar="N",
                        help="on SCALE_IN, delete N of the project's servers (newest first, not --group members)"
                             " before answering ACK_SCALE_IN (once)")
    parser.add_argument("--log", help="JSON-lines event log (default: standard output)")
    parser.add_argument("--reply-retries", type=int, default=5, help="retries of a request to the API (default 5)")
    parser.add_argument("--check-timeout", type=float, default=60.0,
                        help="how long to wait for moving instances to settle before checking (default 60 s)")
    args = parser.parse_args(argv)
    if not args.listen and not args.bus:
        parser.error("give --listen (webhook) and/or --bus (message bus)")
    try:
        args.policies = PolicyBook.parse(args.policy, args.state_policy)
    except PolicyError as exc:
        parser.error(str(exc))
    return args


def listen_address(text: str) -> Tuple[str, int]:
    host, _colon, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def constraint_options(args: argparse.Namespace) -> ConstraintOptions:
    return ConstraintOptions(args.max_impacted, args.recovery_time, args.max_interruption, args.lead_time,
                             args.resource_mitigation, args.vnf_group)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    log = EventLog(args.log)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    cloud = Cloud.connect(args.cloud)
    api = MaintenanceApi(cloud.token, retries=args.reply_retries)
    vnfm = Vnfm(cloud.project_id, args.policies, api, cloud, log, per_instance=args.per_instance,
                check_timeout=args.check_timeout, stop=stop, scale_in_delete=args.scale_in_delete,
                workflow=args.workflow)

    if args.group:
        api_url = args.api_url or cloud.endpoint("maintenance")
        if not api_url:
            log.write("error", error="--group needs the API: give --api-url, or register the service type"
                                     " maintenance in the Keystone catalog")
            return 2
        vnfm.keep = cloud.server_group(args.group)["members"]
        vnfm.set_constraints_when_possible(api_url, args.group, constraint_options(args))

    server = consumer = None
    if args.listen:
        server = WebhookServer(listen_address(args.listen), vnfm)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    if args.bus:
        consumer = BusConsumer(args.bus, args.exchange, args.topic, vnfm)
        consumer.start()
        if not consumer.ready.wait(30):
            log.write("error", transport="bus", error="could not bind a queue on the bus within 30 s")
            return 1
    log.write("started", project_id=vnfm.project_id, policy=args.policies.default.describe(),
              workflow=args.workflow,
              state_policies={state: policy.describe() for state, policy in args.policies.by_state.items()},
              webhook="http://%s:%d/maintenance" % server.server_address[:2] if server else None,
              bus=bool(consumer))

    while not stop.wait(0.5):
        pass
    # Stop taking notifications, then give answers under way a moment to finish.
    if server:
        server.shutdown()
        server.server_close()
        server.wait_for_workers(timeout=10)
    if consumer:
        consumer.join(timeout=5)
    log.write("stopped", project_id=vnfm.project_id)
    log.close()
    return 0
