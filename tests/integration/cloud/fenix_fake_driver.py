"""Fake Nova virt driver for the fenix.maintenance test cloud.

Based on nova.virt.fake.FakeLiveMigrateDriver (live migration takes ~5 s,
cold migration / resize confirm work) with:

* a real, finite capacity per host, so that the scheduler refuses when a
  host is full: FENIX_CLOUD_VCPUS / FENIX_CLOUD_RAM_MB / FENIX_CLOUD_DISK_GB
  (defaults 8 / 4096 / 40), overridable per host with
  FENIX_CLOUD_CAPACITY="compute1=4:2048:20,compute3=16:8192:80";
* a stable compute-node UUID kept in the host's state_path (compute_id), so
  a restarted nova-compute keeps its identity (the stock fake drivers pick a
  new random UUID per process and nova then refuses to start);
* get_host_uptime, used by the hypervisor detail API.

Nova loads drivers from the nova.virt package only: cloudctl symlinks this
file into the venv's nova/virt/ and sets
[DEFAULT] compute_driver = fenix_fake_driver.FenixFakeDriver.
"""

import os

import nova.conf
import nova.virt.node
from nova.virt import fake

CONF = nova.conf.CONF


def host_capacity(host):
    vcpus = int(os.environ.get('FENIX_CLOUD_VCPUS', 8))
    ram = int(os.environ.get('FENIX_CLOUD_RAM_MB', 4096))
    disk = int(os.environ.get('FENIX_CLOUD_DISK_GB', 40))
    for item in os.environ.get('FENIX_CLOUD_CAPACITY', '').split(','):
        if '=' not in item:
            continue
        name, spec = item.strip().split('=', 1)
        if name != host:
            continue
        parts = spec.split(':')
        if parts[0]:
            vcpus = int(parts[0])
        if len(parts) > 1 and parts[1]:
            ram = int(parts[1])
        if len(parts) > 2 and parts[2]:
            disk = int(parts[2])
    return vcpus, ram, disk


class FenixFakeDriver(fake.FakeLiveMigrateDriver):

    def __init__(self, virtapi, read_only=False):
        self.vcpus, self.memory_mb, self.local_gb = host_capacity(CONF.host)
        super().__init__(virtapi, read_only)

    def get_available_resource(self, nodename):
        resources = super().get_available_resource(nodename)
        if resources:
            resources['uuid'] = nova.virt.node.get_local_node_uuid()
        return resources

    def get_nodenames_by_uuid(self, refresh=False):
        return {nova.virt.node.get_local_node_uuid():
                self.get_available_nodes()[0]}

    def get_host_uptime(self):
        return (' 12:00:00 up 1 day,  1:00,  0 users,  '
                'load average: 0.00, 0.00, 0.00')
