"""Notifications from the collection's real sender, and fakes of the API, the cloud and the log.

Notifications are built with the collection's notify code, so a change of
the wire shape on either side fails the reference VNFM's tests first.
"""

from __future__ import annotations

import os

import fenix_vnfm
from fenix_vnfm import client, manager, protocol

from ansible_collections.fenix.maintenance.plugins.module_utils.notify import notifier as notify

EXAMPLE = os.path.dirname(os.path.dirname(os.path.abspath(fenix_vnfm.__file__)))  # examples/reference_vnfm
API = "http://api.example:12347/v1"
PROJECT = "fc9628a8089441e9af02942f29e0072c"
OTHER = "ec360ecbe21e4fec83eaaaee7782e776"
MINE = ["11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"]


def payload(state="PLANNED_MAINTENANCE", project_id=PROJECT, **extra):
    return notify.scheduled_payload(API, "sid-1", project_id, state, "2030-01-01 00:00:00", "2030-01-01 00:00:00",
                                    {"release": "next"}, **extra)


def aodh(body_payload):
    notification = notify.Notification(notify.SCHEDULED, body_payload)
    target = notify.configured_target(body_payload["project_id"], "http://vnfm/maintenance", notify.SCHEDULED)
    return notify.aodh_body(notification, target), notification


class FakeApi(client.MaintenanceApi):
    """The real client over a fake ``call``: answers GETs of the instance list and records every request.

    ``statuses`` are the PUT answers in turn (the last one repeats).
    """

    def __init__(self, instances=None, status=200, statuses=None):
        super().__init__(token=lambda _fresh: "token")
        self.instances = list(MINE) if instances is None else instances
        self.statuses = list(statuses or [status])
        self.calls = []
        self.retries_asked = []  # each PUT's retries (None: the client's)

    def call(self, method, url, body=None, retries=None):
        self.calls.append((method, url, body))
        if method == "PUT":
            self.retries_asked.append(retries)
        if method == "GET":
            return {"status": 200, "body": {"instance_ids": self.instances}, "attempts": 1, "error": None}
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        error = None if status == 200 else "HTTP %d" % status
        return {"status": status, "body": {}, "attempts": 1, "error": error}

    def puts(self):
        return [(url, body) for method, url, body in self.calls if method == "PUT"]


class FakeCloud:
    def __init__(self, statuses):
        self.sequence = statuses if isinstance(statuses, list) else [statuses]
        self.asked = []
        self.deleted = []

    def statuses(self, ids):
        self.asked.append(list(ids))
        current = self.sequence[min(len(self.asked), len(self.sequence)) - 1]
        return {server_id: current.get(server_id, "ACTIVE") for server_id in ids}

    def my_server_ids(self):
        return list(MINE)

    def server_group(self, name):
        return {"id": "g-1", "name": name, "policy": "anti-affinity", "members": list(MINE),
                "names": {MINE[0]: "vm-0", MINE[1]: "vm-1"}}

    def delete_servers(self, count, keep):
        chosen = ["new-%d" % index for index in range(count)]
        self.deleted.append((count, list(keep)))
        return chosen


class MemoryLog:
    def __init__(self):
        self.lines = []

    def write(self, event, **fields):
        self.lines.append(dict(fields, event=event))

    def events(self, name):
        return [line for line in self.lines if line["event"] == name]


def make(policy="live_migrate", statuses=None, per_instance=False, api=None, overrides=(), **options):
    api = api or FakeApi()
    log = MemoryLog()
    vnfm = manager.Vnfm(PROJECT, protocol.PolicyBook.parse(policy, list(overrides)), api, FakeCloud(statuses or {}),
                        log, per_instance=per_instance, check_timeout=5, check_interval=0.01, **options)
    return vnfm, api, log
