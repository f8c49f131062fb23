"""The reference VNFM's view of its servers: a few read one by one, more from one list of the project's servers."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from fenix_vnfm.cloud import Cloud


class Compute:
    def __init__(self, servers: dict) -> None:
        self.servers_by_id = servers
        self.calls: Counter = Counter()

    def find_server(self, server_id, ignore_missing=False):
        self.calls["find_server"] += 1
        status = self.servers_by_id.get(server_id)
        return None if status is None else SimpleNamespace(id=server_id, status=status)

    def servers(self):
        self.calls["servers"] += 1
        return [SimpleNamespace(id=server_id, status=status) for server_id, status in self.servers_by_id.items()]


def cloud_with(servers: dict) -> Cloud:
    return Cloud(SimpleNamespace(compute=Compute(servers)))


def test_many_servers_are_read_from_one_list_of_the_project():
    cloud = cloud_with({"vm-%d" % i: "ACTIVE" for i in range(6)} | {"vm-6": "MIGRATING"})
    asked = ["vm-%d" % i for i in range(7)] + ["gone"]
    expected = {"vm-%d" % i: "ACTIVE" for i in range(6)} | {"vm-6": "MIGRATING", "gone": "NOT_FOUND"}
    assert cloud.statuses(asked) == expected
    assert cloud.conn.compute.calls == Counter(servers=1)


def test_a_few_servers_are_read_one_by_one():
    cloud = cloud_with({"vm-%d" % i: "ACTIVE" for i in range(50)})
    assert cloud.statuses(["vm-3", "gone"]) == {"vm-3": "ACTIVE", "gone": "NOT_FOUND"}
    assert cloud.conn.compute.calls == Counter(find_server=2)
