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
* get_host_uptime, used by the hypervisor detail API;
* live migrations that can be made to hang, one server at a time, without
  restarting anything: a server whose metadata has
  fenix_test_live_migration_seconds=N live-migrates for N seconds unless it
  is forced to complete or aborted. Other servers take
  FENIX_CLOUD_LIVE_MIGRATION_SECONDS (default 5, as the stock driver's loop),
  read from the compute process's environment, so from the next
  `cloudctl start`. Force and abort end that one migration, not every
  migration of the compute as the stock driver's single flag does;
* memory progress, as libvirt reports it: the migration record's
  memory_total / memory_processed / memory_remaining (GET
  /servers/{id}/migrations) are saved about once a second, the memory left to
  copy falling evenly from the server's RAM to 0 over the migration's time.

Nova loads drivers from the nova.virt package only: cloudctl symlinks this
file into the venv's nova/virt/ and sets
[DEFAULT] compute_driver = fenix_fake_driver.FenixFakeDriver.
"""

import os
import time

import nova.conf
import nova.virt.node
from oslo_log import log as logging
from nova.virt import fake

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

# The server metadata key that makes one server's live migrations last this many seconds.
SLOW_MIGRATION_KEY = 'fenix_test_live_migration_seconds'
# How a live migration in progress ends: by itself (running), forced, aborted.
RUNNING, FORCE, ABORT = 'running', 'force', 'abort'
PROGRESS_EVERY = 1.0
MIB = 1024 * 1024


def live_migration_seconds(instance):
    """How long this server's live migration lasts: its metadata marker, else the process default."""
    default = float(os.environ.get('FENIX_CLOUD_LIVE_MIGRATION_SECONDS', 5))
    try:
        value = (instance.metadata or {}).get(SLOW_MIGRATION_KEY)
    except Exception:  # pylint: disable=broad-except
        # metadata is lazy-loaded through the conductor; a test marker is not worth failing a migration
        LOG.warning('could not read the metadata of %s; using %s s', instance.uuid, default)
        return default
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        LOG.warning('%s=%r on %s is not a number; using %s s', SLOW_MIGRATION_KEY, value, instance.uuid, default)
        return default


def migration_of(migrate_data):
    """The nova.objects.Migration the compute manager hands over in migrate_data, or None."""
    try:
        if migrate_data is not None and migrate_data.obj_attr_is_set('migration'):
            return migrate_data.migration
    except Exception:  # pylint: disable=broad-except
        pass
    return None


def save_progress(migration, total, remaining):
    """What libvirt's monitor saves (nova.virt.libvirt.migration.save_stats), memory only."""
    if migration is None:
        return
    try:
        migration.memory_total = total
        migration.memory_remaining = remaining
        migration.memory_processed = total - remaining
        migration.save()
    except Exception as exc:  # pylint: disable=broad-except
        LOG.warning('could not save the progress of migration %s: %s', migration.id, exc)


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
        # instance uuid -> RUNNING, FORCE or ABORT, for each live migration in progress from this compute
        self._live_migrations = {}

    def live_migration(self, context, instance, dest,
                       post_method, recover_method, block_migration=False,
                       migrate_data=None):
        self._live_migrations[instance.uuid] = RUNNING
        seconds = live_migration_seconds(instance)
        migration = migration_of(migrate_data)
        total = (instance.memory_mb or 0) * MIB
        started = time.monotonic()
        saved = None
        try:
            while self._live_migrations.get(instance.uuid) == RUNNING:
                elapsed = time.monotonic() - started
                if elapsed >= seconds:
                    break
                if saved is None or elapsed - saved >= PROGRESS_EVERY:
                    save_progress(migration, total, int(total * (1 - elapsed / seconds)))
                    saved = elapsed
                time.sleep(0.1)
        finally:
            ending = self._live_migrations.pop(instance.uuid, RUNNING)
        if ending == ABORT:
            recover_method(context, instance, dest, migrate_data,
                           migration_status='cancelled')
        else:
            save_progress(migration, total, 0)
            post_method(context, instance, dest, block_migration,
                        migrate_data)

    def live_migration_force_complete(self, instance):
        # Only a migration in progress: a late request must not end the server's next migration.
        if instance.uuid in self._live_migrations:
            self._live_migrations[instance.uuid] = FORCE

    def live_migration_abort(self, instance):
        if instance.uuid in self._live_migrations:
            self._live_migrations[instance.uuid] = ABORT

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
