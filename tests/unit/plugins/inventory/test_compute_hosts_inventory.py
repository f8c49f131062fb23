"""The compute_hosts inventory plugin, run through Ansible's InventoryManager against a FakeCloud.

The plugin is found the way ansible-inventory finds it (the ``auto`` plugin
reads ``plugin:`` from the file), so its documentation, options and the
constructed and cache features are the real ones; only the connection is fake.
"""

import json
import os
import sys

import pytest
import yaml
from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader
from ansible.template import Templar
from openstack import exceptions

from ansible_collections.fenix.maintenance.plugins.module_utils.cloud import connection as openstack_utils
from fakes import FakeCloud

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 trusts every template given to it
    def trust_as_template(text):
        return text

COLLECTIONS = next(path for path in sys.path  # tests/unit/conftest.py puts it there
                   if os.path.isdir(os.path.join(path, "ansible_collections", "fenix", "maintenance")))
PLUGIN = "fenix.maintenance.compute_hosts"
COLLECTION_PACKAGE = "ansible_collections.fenix.maintenance"
HOSTS = ("compute1", "compute2", "compute3", "compute4")


@pytest.fixture(autouse=True)
def unparsed_is_failed(monkeypatch):
    """A source the plugin cannot parse fails the test instead of leaving an empty inventory."""
    monkeypatch.setattr(C, "INVENTORY_UNPARSED_IS_FAILED", True)


@pytest.fixture(scope="module")
def plugin_class():
    init_plugin_loader([COLLECTIONS])
    collection = sys.modules.get(COLLECTION_PACKAGE)
    if collection is not None and getattr(collection, "_collection_meta", None) is None:
        # Imported from sys.path by earlier tests, before Ansible's collection
        # loader existed: let the loader import the package again so that it
        # reads meta/runtime.yml. Submodules stay as they are.
        del sys.modules[COLLECTION_PACKAGE]
    plugin = inventory_loader.get(PLUGIN)
    assert plugin is not None, "ansible cannot load %s from %s" % (PLUGIN, COLLECTIONS)
    return type(plugin)


@pytest.fixture
def cloud(monkeypatch, plugin_class):
    """A cloud of four hosts in every service state; the plugin connects to it."""
    fake = FakeCloud(hosts=HOSTS)
    fake.services["compute2"].status = "disabled"
    fake.services["compute2"].disabled_reason = "fenix.maintenance: kernel 6.1"
    fake.services["compute3"].status = "disabled"
    fake.services["compute3"].disabled_reason = "RMA 1234"
    fake.services["compute4"].state = "down"
    fake.services["compute4"].is_forced_down = True
    for host in ("compute3", "compute4"):
        fake.services[host].availability_zone = "zone-b"
    fake.add_aggregate("rack 1", ["compute1", "compute2"])
    fake.add_aggregate("fast-nvme.v2", ["compute3", "compute4"], availability_zone="zone-b")
    fake.add_server("compute1")
    fake.add_server("compute1", vcpus=2)
    fake.add_server("compute3")
    monkeypatch.setattr(plugin_class, "_connect", lambda self: fake)
    return fake


def write_source(tmp_path, name="test.compute_hosts.yml", **options) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(dict({"plugin": PLUGIN}, **options)))
    return str(path)


def inventory(path: str, cache: bool = True) -> InventoryManager:
    """What ansible-inventory builds from the source (``cache=False`` is --flush-cache)."""
    return InventoryManager(loader=DataLoader(), sources=[path], cache=cache)


def members(manager: InventoryManager, group: str) -> list:
    return sorted(host.name for host in manager.groups[group].get_hosts())


def compute_vars(manager: InventoryManager, host: str) -> dict:
    return manager.get_host(host).get_vars()["fenix_compute"]


def test_groups_by_state_zone_and_aggregate(tmp_path, cloud):
    manager = inventory(write_source(tmp_path))
    assert members(manager, "compute_hosts") == list(HOSTS)
    assert members(manager, "compute_enabled") == ["compute1", "compute4"]
    assert members(manager, "compute_disabled") == ["compute2", "compute3"]
    assert members(manager, "compute_down") == ["compute4"]
    # Only the host this collection disabled, not the RMA one.
    assert members(manager, "maintenance_disabled") == ["compute2"]
    assert members(manager, "az_nova") == ["compute1", "compute2"]
    # Ansible's group name sanitation: "-", "." and " " are not valid in group names.
    assert members(manager, "az_zone_b") == ["compute3", "compute4"]
    assert members(manager, "aggregate_rack_1") == ["compute1", "compute2"]
    assert members(manager, "aggregate_fast_nvme_v2") == ["compute3", "compute4"]
    children = sorted(group.name for group in manager.groups["compute_hosts"].child_groups)
    assert children == sorted([
        "compute_enabled", "compute_disabled", "compute_down", "maintenance_disabled",
        "az_nova", "az_zone_b", "aggregate_rack_1", "aggregate_fast_nvme_v2",
    ])


def test_state_groups_exist_when_empty(tmp_path, monkeypatch, plugin_class):
    monkeypatch.setattr(plugin_class, "_connect", lambda self: FakeCloud())
    manager = inventory(write_source(tmp_path))
    for group in ("compute_disabled", "compute_down", "maintenance_disabled"):
        assert members(manager, group) == []


def test_hostvars(tmp_path, cloud):
    manager = inventory(write_source(tmp_path))
    assert compute_vars(manager, "compute1") == {
        "host": "compute1",
        "service_id": "svc-compute1",
        "status": "enabled",
        "state": "up",
        "disabled_reason": None,
        "disabled_by_us": False,
        "forced_down": False,
        "availability_zone": "nova",
        "aggregates": ["rack 1"],
        "hypervisor_id": "rp-compute1",
        "hypervisor_hostname": "compute1",
        "hypervisor_state": "up",
        "hypervisor_status": "enabled",
        "host_ip": "192.0.2.1",
        "server_count": 2,
        "usage": {
            "vcpus": {"used": 3, "total": 8},
            "memory_mb": {"used": 768, "total": 4096},
            "local_gb": {"used": 3, "total": 40},
        },
    }
    second = compute_vars(manager, "compute2")
    assert (second["disabled_reason"], second["disabled_by_us"]) == ("fenix.maintenance: kernel 6.1", True)
    third = compute_vars(manager, "compute3")
    assert (third["disabled_reason"], third["disabled_by_us"], third["server_count"]) == ("RMA 1234", False, 1)
    fourth = compute_vars(manager, "compute4")
    assert (fourth["forced_down"], fourth["state"], fourth["server_count"]) == (True, "down", 0)
    # No ansible_host unless composed: Nova's host_ip need not be reachable.
    assert "ansible_host" not in manager.get_host("compute1").get_vars()


def test_zone_from_aggregate_when_the_service_has_none(tmp_path, cloud):
    cloud.services["compute3"].availability_zone = None
    manager = inventory(write_source(tmp_path))
    assert compute_vars(manager, "compute3")["availability_zone"] == "zone-b"


def test_host_without_hypervisor_record(tmp_path, cloud, monkeypatch):
    records = cloud.hypervisor_record
    monkeypatch.setattr(cloud, "hypervisor_record", lambda host, svc: records(host, svc) if host != "compute4" else {})
    manager = inventory(write_source(tmp_path))
    fourth = compute_vars(manager, "compute4")
    assert (fourth["server_count"], fourth["host_ip"], fourth["usage"]) == (None, None, {})


@pytest.mark.parametrize("page_size, pages", [(None, 1), (7, 3)])
def test_three_list_calls_whatever_the_size(tmp_path, monkeypatch, plugin_class, page_size, pages):
    hosts = ["compute%02d" % index for index in range(20)]
    big = FakeCloud(hosts=hosts)
    big.hypervisor_page_size = page_size
    for index in range(200):
        big.add_server(hosts[index % len(hosts)])
    big.add_aggregate("all", hosts)
    monkeypatch.setattr(plugin_class, "_connect", lambda self: big)
    manager = inventory(write_source(tmp_path))
    assert len(manager.groups["compute_hosts"].get_hosts()) == 20
    assert compute_vars(manager, "compute07")["server_count"] == 10
    # One service list, the hypervisor list (one request per page), one aggregate list;
    # nothing per host, per server, nor Placement.
    assert dict(big.calls) == {"compute.services": 1, "compute.get": pages, "compute.aggregates": 1}


def test_compose_groups_and_keyed_groups(tmp_path, cloud):
    path = write_source(
        tmp_path,
        compose={"ansible_host": "fenix_compute.host_ip", "vcpus_free": "fenix_compute.usage.vcpus.total - fenix_compute.usage.vcpus.used"},
        groups={"has_servers": "fenix_compute.server_count > 0", "roomy": "vcpus_free | int >= 8"},
        keyed_groups=[{"key": "fenix_compute.aggregates", "prefix": "agg"}, {"key": "fenix_compute.state", "prefix": "svc"}],
    )
    manager = inventory(path)
    host_vars = manager.get_host("compute1").get_vars()
    assert (host_vars["ansible_host"], host_vars["vcpus_free"]) == ("192.0.2.1", 5)
    assert members(manager, "has_servers") == ["compute1", "compute3"]
    # Composed variables are there for the groups too.
    assert members(manager, "roomy") == ["compute2", "compute4"]
    assert members(manager, "agg_rack_1") == ["compute1", "compute2"]
    assert members(manager, "svc_down") == ["compute4"]


def test_strict_reports_a_bad_expression(tmp_path, cloud, plugin_class):
    lenient = inventory(write_source(tmp_path, compose={"x": "fenix_compute.no_such_field.deeper"}))
    assert "x" not in lenient.get_host("compute1").get_vars()
    path = write_source(tmp_path, name="strict.compute_hosts.yml", strict=True, compose={"x": "fenix_compute.no_such_field.deeper"})
    with pytest.raises(AnsibleError, match="no_such_field"):
        parse_directly(path, plugin_class)


def test_nova_data_is_never_templated(tmp_path, cloud):
    cloud.services["compute3"].disabled_reason = "{{ 7 * 6 }}"
    manager = inventory(write_source(tmp_path, compose={"reason": "fenix_compute.disabled_reason"}))
    assert compute_vars(manager, "compute3")["disabled_reason"] == "{{ 7 * 6 }}"
    host_vars = manager.get_host("compute3").get_vars()
    assert host_vars["reason"] == "{{ 7 * 6 }}"
    # A play that uses the variable gets the text, not 42.
    templar = Templar(loader=DataLoader(), variables=host_vars)
    assert templar.template(trust_as_template("{{ fenix_compute.disabled_reason }} {{ reason }}")) == "{{ 7 * 6 }} {{ 7 * 6 }}"


def test_hosts_option_selects_by_name_or_pattern(tmp_path, cloud, plugin_class):
    manager = inventory(write_source(tmp_path, hosts=["compute1", "compute[34]"]))
    assert members(manager, "compute_hosts") == ["compute1", "compute3", "compute4"]
    path = write_source(tmp_path, name="typo.compute_hosts.yml", hosts=["compute1", "comptue2"])
    with pytest.raises(AnsibleError, match="hosts: comptue2 matches no nova-compute host; known hosts: compute1, compute2"):
        parse_directly(path, plugin_class)


def test_jsonfile_cache_answers_without_the_cloud(tmp_path, cloud, plugin_class, monkeypatch):
    cache_dir = tmp_path / "cache"
    path = write_source(tmp_path, cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(cache_dir))
    first = inventory(path)
    reads = dict(cloud.calls)
    assert reads == {"compute.services": 1, "compute.get": 1, "compute.aggregates": 1}
    [cached] = os.listdir(cache_dir)
    assert sorted(record["host"] for record in cached_records(cache_dir / cached)) == list(HOSTS)

    def unreachable(self):
        raise AssertionError("the cloud was read although the cache is fresh")

    monkeypatch.setattr(plugin_class, "_connect", unreachable)
    second = inventory(path)
    assert members(second, "compute_down") == members(first, "compute_down") == ["compute4"]
    assert compute_vars(second, "compute1") == compute_vars(first, "compute1")

    # --flush-cache (or meta: refresh_inventory) reads the cloud again and rewrites the cache.
    monkeypatch.setattr(plugin_class, "_connect", lambda self: cloud)
    cloud.services["compute1"].status = "disabled"
    refreshed = inventory(path, cache=False)
    assert "compute1" in members(refreshed, "compute_disabled")
    assert dict(cloud.calls) == {name: 2 * count for name, count in reads.items()}
    assert "compute1" in members(inventory(path), "compute_disabled")


def test_without_cache_every_run_reads_the_cloud(tmp_path, cloud):
    path = write_source(tmp_path)
    inventory(path)
    inventory(path)
    assert cloud.calls["compute.services"] == 2


def test_cloud_errors_name_the_options(tmp_path, monkeypatch, plugin_class):
    def refused(self):
        raise exceptions.SDKException("Cloud fenix-nope was not found.")

    monkeypatch.setattr(plugin_class, "_connect", refused)
    path = write_source(tmp_path, cloud="fenix-nope")
    with pytest.raises(AnsibleError, match="cloud 'fenix-nope': Cloud fenix-nope was not found.*clouds_yaml_path"):
        parse_directly(path, plugin_class)


def test_cloud_dict_with_separate_auth_is_refused(tmp_path, plugin_class):
    # The real _connect: it refuses before any request.
    path = write_source(tmp_path, cloud={"auth": {"auth_url": "http://keystone.invalid/v3"}}, auth={"username": "admin"})
    with pytest.raises(AnsibleError, match="cloud: a cloud dict was given together with auth"):
        parse_directly(path, plugin_class)


def test_connect_searches_clouds_yaml_path_first(tmp_path, monkeypatch):
    monkeypatch.delenv("OS_CLIENT_CONFIG_FILE", raising=False)
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(yaml.safe_dump({"clouds": {"only-here": {
        "auth": {"auth_url": "http://keystone.invalid:5000/v3", "username": "u", "password": "p", "project_name": "admin"},
        "region_name": "RegionTest",
    }}}))
    conn = openstack_utils.connect({"cloud": "only-here"}, config_files=[str(clouds)])
    assert conn.config.name == "only-here"
    assert conn.config.get_region_name() == "RegionTest"
    assert conn.config.config["auth"]["auth_url"] == "http://keystone.invalid:5000/v3"


@pytest.mark.parametrize("name, accepted", [
    ("prod.compute_hosts.yml", True),
    ("prod.compute_hosts.yaml", True),
    ("compute_hosts.yml", True),
    ("my_compute_hosts.yml", False),
    ("prod.openstack.yml", False),
])
def test_verify_file(tmp_path, plugin_class, name, accepted):
    path = tmp_path / name
    path.write_text("plugin: %s\n" % PLUGIN)
    assert plugin_class().verify_file(str(path)) is accepted


def cached_records(path) -> list:
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "__payload__" in data:  # ansible-core >= 2.19 wraps the cached value
        data = json.loads(data["__payload__"])
    return data


def parse_directly(path: str, plugin_class):
    """Parse with the plugin itself: InventoryManager turns a failure into a warning."""
    from ansible.inventory.data import InventoryData

    plugin = inventory_loader.get(PLUGIN)
    plugin.parse(InventoryData(), DataLoader(), path, cache=False)
    return plugin
