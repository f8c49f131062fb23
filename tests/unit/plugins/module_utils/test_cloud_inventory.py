"""cloud/inventory.py: compute hosts as inventory records, read from a FakeCloud with three list calls."""

from collections import Counter

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.inventory import (
    aggregates_by_host,
    group_names,
    host_record,
    read_compute_hosts,
    select_hosts,
)
from fakes import FakeCloud, FakeService

HOSTS = ("compute1", "compute2", "compute3", "compute4")
THREE_LISTS = Counter({"compute.services": 1, "compute.get": 1, "compute.aggregates": 1})


@pytest.fixture
def cloud():
    """Four hosts, one in each service state, in two zones and two aggregates."""
    fake = FakeCloud(hosts=HOSTS)
    fake.services["compute2"].status = "disabled"
    fake.services["compute2"].disabled_reason = "fenix.maintenance: kernel 6.1"
    fake.services["compute3"].status = "disabled"
    fake.services["compute3"].disabled_reason = "RMA 1234"
    fake.services["compute4"].state = "down"
    fake.services["compute4"].is_forced_down = True
    fake.services["compute4"].availability_zone = None  # its zone comes from its aggregate
    fake.services["compute3"].availability_zone = "zone-b"
    fake.add_aggregate("rack 1", ["compute1", "compute2"])
    fake.add_aggregate("fast-nvme", ["compute3", "compute4"], availability_zone="zone-b")
    fake.add_aggregate("gpu", ["compute1"])
    fake.add_server("compute1")
    fake.add_server("compute1", vcpus=2)
    fake.add_server("compute3")
    return fake


def by_host(records):
    return {record["host"]: record for record in records}


def test_a_record_holds_the_service_the_hypervisor_and_the_aggregates(cloud):
    # The whole record, as a host variable, is in tests/unit/plugins/inventory/test_compute_hosts_inventory.py.
    records = read_compute_hosts(cloud)
    assert [record["host"] for record in records] == list(HOSTS)
    first = records[0]
    assert (first["service_id"], first["status"], first["state"], first["availability_zone"]) == (
        "svc-compute1", "enabled", "up", "nova")
    assert first["aggregates"] == ["gpu", "rack 1"]  # sorted by name, not in listing order
    assert (first["hypervisor_id"], first["hypervisor_hostname"], first["host_ip"]) == (
        "rp-compute1", "compute1", "192.0.2.1")
    assert first["server_count"] == 2
    assert first["usage"]["vcpus"] == {"used": 3, "total": 8}
    assert first["usage"]["memory_mb"] == {"used": 768, "total": 4096}


def test_service_states_are_reported_as_nova_has_them(cloud):
    records = by_host(read_compute_hosts(cloud))
    assert records["compute2"]["disabled_by_us"] is True
    assert records["compute2"]["disabled_reason"] == "fenix.maintenance: kernel 6.1"
    assert records["compute3"]["disabled_by_us"] is False  # disabled, but by someone else
    assert (records["compute4"]["state"], records["compute4"]["forced_down"]) == ("down", True)
    assert records["compute4"]["hypervisor_state"] == "down"
    assert [records[host]["server_count"] for host in HOSTS] == [2, 0, 1, 0]


def test_zone_of_the_service_first_then_of_an_aggregate(cloud):
    records = by_host(read_compute_hosts(cloud))
    assert records["compute3"]["availability_zone"] == "zone-b"
    assert records["compute4"]["availability_zone"] == "zone-b"  # from aggregate fast-nvme
    cloud.services["compute1"].availability_zone = None
    assert by_host(read_compute_hosts(cloud))["compute1"]["availability_zone"] is None  # no zone anywhere


def test_groups_by_state_zone_and_aggregate(cloud):
    groups = {record["host"]: group_names(record) for record in read_compute_hosts(cloud)}
    assert groups == {
        "compute1": ["compute_enabled", "az_nova", "aggregate_gpu", "aggregate_rack 1"],
        "compute2": ["compute_disabled", "maintenance_disabled", "az_nova", "aggregate_rack 1"],
        "compute3": ["compute_disabled", "az_zone-b", "aggregate_fast-nvme"],
        "compute4": ["compute_enabled", "compute_down", "az_zone-b", "aggregate_fast-nvme"],
    }


def test_other_services_of_a_compute_listing_are_left_out(cloud):
    # Older Nova releases ignore the binary filter and list every service.
    cloud.services["controller"] = FakeService(
        id="svc-conductor", host="controller", binary="nova-conductor", status="enabled",
        disabled_reason=None, is_forced_down=False, state="up", availability_zone="internal",
    )
    assert [record["host"] for record in read_compute_hosts(cloud)] == list(HOSTS)


def test_a_host_without_hypervisor_record_has_no_usage():
    service = FakeService(id="svc-x", host="x", status="enabled", disabled_reason=None, is_forced_down=False,
                          state="up", availability_zone=None)
    record = host_record(service, None, [{"name": "a", "availability_zone": "zone-a"}])
    assert record["availability_zone"] == "zone-a"
    assert record["aggregates"] == ["a"]
    assert (record["hypervisor_id"], record["server_count"], record["host_ip"]) == (None, None, None)
    assert record["usage"] == {}


def test_usage_lists_only_what_the_hypervisor_reports():
    service = FakeService(id="s", host="x", status="enabled", disabled_reason=None, is_forced_down=False,
                          state="up", availability_zone="nova")
    record = host_record(service, {"id": "rp-x", "vcpus": 4, "vcpus_used": 1}, [])
    assert record["usage"] == {"vcpus": {"used": 1, "total": 4}}


def test_aggregates_by_host_skips_empty_aggregates():
    class Aggregate:
        def __init__(self, name, hosts, zone=None):
            self.name, self.hosts, self.availability_zone = name, hosts, zone

    found = aggregates_by_host([Aggregate("b", ["h1"]), Aggregate("empty", None), Aggregate("a", ["h1", "h2"], "z")])
    assert found == {
        "h1": [{"name": "a", "availability_zone": "z"}, {"name": "b", "availability_zone": None}],
        "h2": [{"name": "a", "availability_zone": "z"}],
    }


@pytest.mark.parametrize("host_count, servers_per_host", [(3, 0), (3, 20), (200, 5)])
def test_three_list_calls_whatever_the_number_of_hosts_and_servers(host_count, servers_per_host):
    cloud = FakeCloud(hosts=["compute%03d" % index for index in range(host_count)])
    for host in list(cloud.services):
        for _index in range(servers_per_host):
            cloud.add_server(host)
    cloud.add_aggregate("all", list(cloud.services))
    records = read_compute_hosts(cloud)
    assert len(records) == host_count
    assert all(record["server_count"] == servers_per_host for record in records)
    assert cloud.calls == THREE_LISTS


def test_hypervisor_pages_are_followed():
    cloud = FakeCloud(hosts=["compute%03d" % index for index in range(120)])
    cloud.hypervisor_page_size = 50  # Nova's max_limit
    records = read_compute_hosts(cloud)
    assert [record["hypervisor_id"] for record in records] == ["rp-compute%03d" % index for index in range(120)]
    assert cloud.calls == Counter({"compute.services": 1, "compute.get": 3, "compute.aggregates": 1})


@pytest.mark.parametrize("patterns, selected", [
    (None, list(HOSTS)),
    ([], list(HOSTS)),
    (["compute3"], ["compute3"]),
    (["compute[13]"], ["compute1", "compute3"]),
    (["compute4", "compute1"], ["compute1", "compute4"]),  # in host order, not pattern order
    (["compute*", "compute2"], list(HOSTS)),  # a host two patterns match is listed once
])
def test_select_hosts_by_shell_pattern(cloud, patterns, selected):
    records = read_compute_hosts(cloud)
    assert [record["host"] for record in select_hosts(records, patterns)] == selected


def test_a_pattern_matching_no_host_is_named_with_the_known_hosts(cloud):
    records = read_compute_hosts(cloud)
    with pytest.raises(LookupError) as raised:
        select_hosts(records, ["compute1", "COMPUTE2", "rack*"])  # patterns are case-sensitive
    assert str(raised.value) == ("hosts: COMPUTE2, rack* matches no nova-compute host;"
                                 " known hosts: compute1, compute2, compute3, compute4")


def test_a_pattern_on_a_cloud_without_hosts():
    with pytest.raises(LookupError, match="known hosts: none$"):
        select_hosts([], ["compute1"])
