"""The compute_hosts inventory plugin through ansible-inventory against the real test cloud.

Read-only: the cloud is shared with other tests, so nothing here changes it.
What the plugin reports is checked against our own openstacksdk queries; the
disabled and down groupings are covered by the unit tests (disabling a host
here would disturb the others).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest
import yaml
from ansible.inventory.group import to_safe_group_name

from conftest import ADMIN_CLOUD, ansible_env

PLUGIN = "fenix.maintenance.compute_hosts"
MANAGED_PREFIX = "fenix.maintenance"
EXPECTED_HOSTS = ["compute1", "compute2", "compute3", "compute4"]


def write_source(directory, name: str, **options) -> str:
    path = os.path.join(str(directory), name)
    with open(path, "w") as handle:
        yaml.safe_dump(dict({"plugin": PLUGIN, "cloud": ADMIN_CLOUD}, **options), handle)
    return path


def plain(value):
    """JSON object hook: ansible-inventory marks text from an inventory plugin as unsafe."""
    if set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value


def ansible_inventory(source: str, *args: str, clouds_yaml: str = None) -> subprocess.CompletedProcess:
    env = ansible_env()
    # A source the plugin cannot read must fail the command, not leave an empty inventory.
    env["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "true"
    if clouds_yaml:
        env["OS_CLIENT_CONFIG_FILE"] = clouds_yaml
    return subprocess.run(["ansible-inventory", "-i", source, "--list", *args], capture_output=True, text=True, env=env, check=False)


def inventory_list(source: str, *args: str, clouds_yaml: str = None) -> dict:
    proc = ansible_inventory(source, *args, clouds_yaml=clouds_yaml)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout, object_hook=plain)


def group_hosts(listing: dict, group: str) -> list:
    return sorted(listing.get(group, {}).get("hosts", []))


def nova_view(admin) -> dict:
    """What Nova says, read independently of the plugin (services and servers, not hypervisors)."""
    counts = {}
    for server in admin.compute.servers(details=True, all_projects=True):
        if server.compute_host:
            counts[server.compute_host] = counts.get(server.compute_host, 0) + 1
    return {
        service.host: {
            "status": service.status,
            "state": service.state,
            "disabled_reason": service.disabled_reason,
            "forced_down": bool(service.is_forced_down),
            "availability_zone": service.availability_zone,
            "server_count": counts.get(service.host, 0),
        }
        for service in admin.compute.services(binary="nova-compute")
    }


def plugin_view(listing: dict) -> dict:
    hostvars = listing["_meta"]["hostvars"]
    return {
        host: {key: hostvars[host]["fenix_compute"][key] for key in
               ("status", "state", "disabled_reason", "forced_down", "availability_zone", "server_count")}
        for host in group_hosts(listing, "compute_enabled") + group_hosts(listing, "compute_disabled")
    }


def consistent_read(admin, source: str, within: float = 90.0):
    """The plugin's listing and Nova's view taken while the cloud held still.

    Other tests move servers and disable hosts on the same cloud; a read is
    kept only when Nova's view is the same before and after it. The plugin's
    server_count is Nova's running_vms, which the resource tracker refreshes
    once a periodic interval (60 s by default), so after a move elsewhere the
    read is retried for longer than one interval before it is given up.
    """
    deadline = time.monotonic() + within
    while True:
        before = nova_view(admin)
        listing = inventory_list(source)
        after = nova_view(admin)
        if before == after and plugin_view(listing) == after:
            return listing, after
        if time.monotonic() > deadline:
            return listing, after
        time.sleep(5)


def differences(plugin: dict, nova: dict) -> dict:
    """Per host, the fields where the plugin and Nova disagree, as (plugin, nova)."""
    return {
        host: {key: (plugin.get(host, {}).get(key), view.get(key)) for key in view if plugin.get(host, {}).get(key) != view.get(key)}
        for host, view in nova.items() if plugin.get(host) != view
    }


@pytest.fixture(scope="module")
def unreachable_clouds_yaml(tmp_path_factory) -> str:
    """A clouds.yaml where the admin cloud points at a closed port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path_factory.mktemp("unreachable") / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {ADMIN_CLOUD: {
        "auth": {"auth_url": "http://127.0.0.1:%d/v3" % port, "username": "admin", "password": "wrong",
                 "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": "RegionOne",
    }}}))
    return str(path)


def test_hosts_groups_and_hostvars_match_nova(admin, tmp_path):
    source = write_source(tmp_path, "test.compute_hosts.yml")
    listing, nova = consistent_read(admin, source)

    hosts = group_hosts(listing, "compute_enabled") + group_hosts(listing, "compute_disabled")
    assert sorted(hosts) == sorted(nova)
    assert set(EXPECTED_HOSTS) <= set(hosts)
    aggregates = {aggregate.name: sorted(aggregate.hosts or []) for aggregate in admin.compute.aggregates()}
    assert sorted(listing["compute_hosts"]["children"]) == sorted(
        ["compute_enabled", "compute_disabled", "compute_down", "maintenance_disabled"]
        + [to_safe_group_name("az_" + zone, force=True) for zone in {view["availability_zone"] for view in nova.values()}]
        + [to_safe_group_name("aggregate_" + name, force=True) for name, members in aggregates.items() if members]
    )
    for name, members in aggregates.items():
        assert members == sorted(h for h in hosts if name in listing["_meta"]["hostvars"][h]["fenix_compute"]["aggregates"])
    assert group_hosts(listing, "compute_enabled") == sorted(h for h, v in nova.items() if v["status"] == "enabled")
    assert group_hosts(listing, "compute_disabled") == sorted(h for h, v in nova.items() if v["status"] == "disabled")
    assert group_hosts(listing, "compute_down") == sorted(h for h, v in nova.items() if v["state"] == "down")
    assert group_hosts(listing, "maintenance_disabled") == sorted(
        h for h, v in nova.items() if v["status"] == "disabled" and (v["disabled_reason"] or "").startswith(MANAGED_PREFIX)
    )
    assert set(EXPECTED_HOSTS) <= set(group_hosts(listing, "az_nova"))

    # Status, state, disabled_reason, zone, server count: what our own queries say.
    assert plugin_view(listing) == nova, differences(plugin_view(listing), nova)
    hostvars = listing["_meta"]["hostvars"]
    for host in hosts:
        compute = hostvars[host]["fenix_compute"]
        assert compute["host"] == host and compute["hypervisor_hostname"]
        assert compute["usage"]["vcpus"]["total"] > 0
        assert compute["usage"]["vcpus"]["used"] <= compute["usage"]["vcpus"]["total"]
        assert "ansible_host" not in hostvars[host], "ansible_host is only set through compose"
    # The seed puts servers on every host, so a count of 0 everywhere would mean a wrong field.
    assert sum(view["server_count"] for view in nova.values()) > 0


def test_compose_and_keyed_groups(admin, tmp_path):
    source = write_source(
        tmp_path, "constructed.compute_hosts.yml",
        compose={"ansible_host": "fenix_compute.host_ip", "free_vcpus": "fenix_compute.usage.vcpus.total - fenix_compute.usage.vcpus.used"},
        groups={"with_servers": "fenix_compute.server_count > 0"},
        keyed_groups=[{"key": "fenix_compute.state", "prefix": "service"},
                      {"key": "fenix_compute.availability_zone", "prefix": "zone"}],
        hosts=["compute[12]", "compute3"],
    )
    listing = inventory_list(source)
    hostvars = listing["_meta"]["hostvars"]
    assert sorted(hostvars) == ["compute1", "compute2", "compute3"]
    hypervisors = {hyp.name: hyp for hyp in admin.compute.hypervisors(details=True)}
    for host, host_vars in hostvars.items():
        compute = host_vars["fenix_compute"]
        assert host_vars["ansible_host"] == compute["host_ip"]
        assert host_vars["ansible_host"] == hypervisors[compute["hypervisor_hostname"]].host_ip
        assert host_vars["free_vcpus"] == compute["usage"]["vcpus"]["total"] - compute["usage"]["vcpus"]["used"]
    assert group_hosts(listing, "zone_nova") == ["compute1", "compute2", "compute3"]
    up = sorted(host for host, host_vars in hostvars.items() if host_vars["fenix_compute"]["state"] == "up")
    assert group_hosts(listing, "service_up") == up
    assert group_hosts(listing, "with_servers") == sorted(
        host for host, host_vars in hostvars.items() if host_vars["fenix_compute"]["server_count"] > 0
    )

    typo = write_source(tmp_path, "typo.compute_hosts.yml", hosts=["compute1", "comptue9"])
    proc = ansible_inventory(typo)
    assert proc.returncode != 0
    assert "hosts: comptue9 matches no nova-compute host" in proc.stderr


def test_cache_answers_without_reading_the_cloud(tmp_path, unreachable_clouds_yaml, test_cloud):
    cache_dir = tmp_path / "cache"
    source = write_source(tmp_path, "cached.compute_hosts.yml", cache=True,
                          cache_plugin="ansible.builtin.jsonfile", cache_connection=str(cache_dir), cache_timeout=600)
    first = inventory_list(source)
    assert set(EXPECTED_HOSTS) <= set(first["_meta"]["hostvars"])
    assert len(os.listdir(cache_dir)) == 1

    # The same source with the cloud out of reach: only the cache can answer.
    second = inventory_list(source, clouds_yaml=unreachable_clouds_yaml)
    assert second == first

    # Proof that the cloud really is out of reach with that clouds.yaml: a refresh fails, naming the options.
    refresh = ansible_inventory(source, "--flush-cache", clouds_yaml=unreachable_clouds_yaml)
    assert refresh.returncode != 0
    assert "cannot read the compute hosts of cloud 'fenix-admin'" in refresh.stderr
    assert "clouds_yaml_path" in refresh.stderr
