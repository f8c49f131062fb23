"""Seed the fenix test cloud (run by `cloudctl seed` with the cloud venv).

Idempotent: projects, users, quotas, flavor, image and server group are
created when missing; all servers (all projects) are deleted and a standard
set is booted again, spread over the hosts deterministically:

* FENIX_SEED_SERVERS_PER_HOST (default 3) servers on every nova-compute host
  (compute1..computeN), all owned by tenant projects;
* slot 0 of compute1..compute3 is a tenant-a server in the anti-affinity
  server group `aa-group` (so the group has 3 members on 3 hosts);
* the other slots cycle through tenant-a, tenant-b, tenant-c;
* the first tenant-b server is stopped (SHUTOFF), for cold migration.

With FENIX_SEED_ZONES=1 the cloud has what Nova's scheduler checks beyond room
(the default seed takes it away again):

* two availability zones, aggregates fenix-az1 (the first half of the hosts)
  and fenix-az2 (the others), fenix-az2 with the metadata fenix_pinned=true;
* the trait CUSTOM_FENIX_FAST on the resource providers of every host but the last;
* flavors fenix.fast (trait:CUSTOM_FENIX_FAST=required), fenix.pinned
  (aggregate_instance_extra_specs:fenix_pinned=true) and fenix.accel (an extra
  spec the planner does not model, fenix_test:accelerator=fpga);
* on compute2 slot 2 a fenix.fast server, on compute4 slot 0 a fenix.accel one
  and slot 1 a fenix.pinned one, and the servers of compute2 slot 1, compute3
  slot 2 and compute4 slot 2 booted into their host's zone.

Servers are booted with networks='none' and the 2.74 `host` field (the
scheduler still runs its filters, so anti-affinity and capacity are checked)
by the user `fenix-seeder`, which has the admin role on the tenant projects
only, scoped to the owning tenant project.  The tenant users
(tenant-X-user) have the member role only.

Writes $FENIX_CLOUD_DIR/clouds.yaml and $FENIX_CLOUD_DIR/seed.json.
"""

import concurrent.futures
import json
import os
import sys
import time

import openstack
from openstack import exceptions

D = os.environ['FENIX_CLOUD_DIR']
PER_HOST = int(os.environ.get('FENIX_SEED_SERVERS_PER_HOST', '3'))
AUTH_URL = 'http://127.0.0.1:5000/v3'
PW = 'openstack'
TENANTS = ['tenant-a', 'tenant-b', 'tenant-c']
SEEDER = 'fenix-seeder'
FLAVOR = 'fenix.tiny'
IMAGE = 'fenix-tiny'
GROUP = 'aa-group'
ZONES = os.environ.get('FENIX_SEED_ZONES') == '1'
ZONE_AGGREGATES = ('fenix-az1', 'fenix-az2')
FAST_TRAIT = 'CUSTOM_FENIX_FAST'
# name: extra specs
SPECIAL_FLAVORS = {
    'fenix.fast': {'trait:%s' % FAST_TRAIT: 'required'},
    'fenix.pinned': {'aggregate_instance_extra_specs:fenix_pinned': 'true'},
    'fenix.accel': {'fenix_test:accelerator': 'fpga'},
}
# (host index, slot): the flavor of that server, or 'zone' when it is booted into its host's zone.
SPECIAL_SERVERS = {(3, 0): 'fenix.accel', (1, 2): 'fenix.fast', (3, 1): 'fenix.pinned',
                   (1, 1): 'zone', (2, 2): 'zone', (3, 2): 'zone'}
QUOTAS = dict(instances=200, cores=400, ram=400 * 1024, server_groups=50,
              server_group_members=200)
T0 = time.time()


def log(msg):
    print('[seed %5.1fs] %s' % (time.time() - T0, msg), flush=True)


def user_conn(username, project):
    return openstack.connect(
        auth_url=AUTH_URL, username=username, password=PW,
        project_name=project, user_domain_name='Default',
        project_domain_name='Default', region_name='RegionOne',
        identity_api_version='3', interface='public')


def host_key(name):
    digits = ''.join(c for c in name if c.isdigit())
    return (int(digits) if digits else 0, name)


def ensure_identity(adm):
    idt = adm.identity
    roles = {r.name: r for r in idt.roles()}
    seeder = idt.find_user(SEEDER, domain_id='default')
    if seeder is None:
        seeder = idt.create_user(name=SEEDER, password=PW,
                                 domain_id='default')
    projects = {}
    for name in TENANTS:
        p = idt.find_project(name, domain_id='default')
        if p is None:
            p = idt.create_project(name=name, domain_id='default',
                                   description='fenix test tenant')
        uname = '%s-user' % name
        u = idt.find_user(uname, domain_id='default')
        if u is None:
            u = idt.create_user(name=uname, password=PW, domain_id='default',
                                default_project_id=p.id)
        idt.assign_project_role_to_user(p, u, roles['member'])
        idt.assign_project_role_to_user(p, seeder, roles['admin'])
        adm.set_compute_quotas(p.id, **QUOTAS)
        projects[name] = p
    return projects


def ensure_flavor(adm, name=FLAVOR, extra_specs=None):
    f = adm.compute.find_flavor(name, ignore_missing=True)
    if f is None:
        f = adm.compute.create_flavor(name=name, vcpus=1, ram=256, disk=1,
                                      is_public=True)
        if extra_specs:
            adm.compute.create_flavor_extra_specs(f, extra_specs)
    return f


def providers(adm, hosts):
    """host -> its Placement resource provider UUID."""
    found = {}
    for h in hosts:
        rps = adm.placement.get('/resource_providers?name=%s' % h).json()[
            'resource_providers']
        if rps:
            found[h] = rps[0]['uuid']
    return found


def set_trait(adm, uuid, trait, present):
    r = adm.placement.get('/resource_providers/%s/traits' % uuid,
                          microversion='1.6')
    exceptions.raise_from_response(r)
    body = r.json()
    traits = set(body['traits'])
    wanted = traits | {trait} if present else traits - {trait}
    if wanted == traits:
        return
    r = adm.placement.put('/resource_providers/%s/traits' % uuid, json={
        'traits': sorted(wanted),
        'resource_provider_generation': body['resource_provider_generation']},
        microversion='1.6')
    exceptions.raise_from_response(r)


def reset_zones(adm, hosts):
    """No zone aggregate and no CUSTOM_FENIX_FAST trait: the default seed."""
    for aggregate in adm.compute.aggregates():
        if aggregate.name in ZONE_AGGREGATES:
            for h in aggregate.hosts or []:
                adm.compute.remove_host_from_aggregate(aggregate, h)
            adm.compute.delete_aggregate(aggregate)
            log('deleted aggregate %s' % aggregate.name)
    r = adm.placement.get('/resource_providers?required=%s' % FAST_TRAIT,
                          microversion='1.18')
    if r.status_code == 200:  # 400 while the trait does not exist yet
        for rp in r.json()['resource_providers']:
            set_trait(adm, rp['uuid'], FAST_TRAIT, False)


def make_zones(adm, hosts):
    """Two zones, the pinned aggregate's metadata, the trait; host -> zone."""
    half = (len(hosts) + 1) // 2
    zones = {}
    for name, members in zip(ZONE_AGGREGATES, (hosts[:half], hosts[half:])):
        zone = name[len('fenix-'):]
        aggregate = adm.compute.create_aggregate(name=name,
                                                 availability_zone=zone)
        for h in members:
            adm.compute.add_host_to_aggregate(aggregate, h)
            zones[h] = zone
        if name == ZONE_AGGREGATES[1]:
            adm.compute.set_aggregate_metadata(aggregate,
                                               {'fenix_pinned': 'true'})
    r = adm.placement.put('/traits/%s' % FAST_TRAIT, microversion='1.6')
    exceptions.raise_from_response(r)
    rp = providers(adm, hosts)
    for h in hosts[:-1]:
        set_trait(adm, rp[h], FAST_TRAIT, True)
    log('zones %s, trait %s on %s' % (
        zones, FAST_TRAIT, ', '.join(hosts[:-1])))
    return zones


def ensure_image(adm):
    imgs = list(adm.image.images(name=IMAGE))
    for i in imgs:
        if i.status == 'active':
            return i
        adm.image.delete_image(i)
    r = adm.image.post('/images', json={
        'name': IMAGE, 'disk_format': 'raw', 'container_format': 'bare',
        'visibility': 'public'})
    exceptions.raise_from_response(r)
    image_id = r.json()['id']
    r = adm.image.put('/images/%s/file' % image_id,
                      data=b'fenix-tiny-image\n' * 256,
                      headers={'Content-Type': 'application/octet-stream'})
    exceptions.raise_from_response(r)
    for _attempt in range(60):
        i = adm.image.get_image(image_id)
        if i.status == 'active':
            return i
        time.sleep(0.5)
    raise SystemExit('image %s not active' % image_id)


def delete_all_servers(adm):
    servers = list(adm.compute.servers(all_projects=True))
    if not servers:
        return
    log('deleting %d servers' % len(servers))

    def delete(s):
        try:
            adm.compute.delete_server(s)
        except exceptions.ConflictException:
            adm.compute.reset_server_state(s, 'error')
            adm.compute.delete_server(s)
        except exceptions.NotFoundException:
            pass

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(delete, servers))
    deadline = time.time() + 180
    while time.time() < deadline:
        left = list(adm.compute.servers(all_projects=True))
        if not left:
            return
        for s in left:
            if s.status == 'ERROR' and not s.task_state:
                delete(s)
        time.sleep(1)
    raise SystemExit('servers not deleted: %s' % [s.name for s in left])


def enable_computes(adm):
    hosts = []
    for s in adm.compute.services(binary='nova-compute'):
        if s.state == 'down' and not s.is_forced_down:
            # A compute of an earlier start with more computes: registered,
            # not running, so nothing can be booted onto it.
            log('skipping nova-compute on %s: down' % s.host)
            continue
        if s.is_forced_down:
            adm.compute.update_service_forced_down(s, forced=False)
        if s.status != 'enabled':
            log('enabling nova-compute on %s' % s.host)
            adm.compute.enable_service(s)
        hosts.append(s.host)
    return sorted(hosts, key=host_key)


def ensure_group(conn):
    """A new, empty anti-affinity group every seed.

    The scheduler caches which instances are on which host and learns of
    deletions late; members of an old group deleted a moment ago could still
    keep new members off their hosts, so the old group goes too.
    """
    for g in conn.compute.server_groups():
        if g.name == GROUP:
            conn.compute.delete_server_group(g)
    return conn.compute.create_server_group(name=GROUP,
                                            policy='anti-affinity')


def plan(hosts, zones=None):
    """[(name, project, host, group?, flavor name, zone)] in a deterministic order."""
    out = []
    cycle = 0
    for i, host in enumerate(hosts):
        for j in range(PER_HOST):
            if j == 0 and i < 3:
                out.append(('tenant-a-aa-%s' % host, 'tenant-a', host, True,
                            FLAVOR, None))
                continue
            project = TENANTS[cycle % len(TENANTS)]
            cycle += 1
            special = SPECIAL_SERVERS.get((i, j)) if zones else None
            flavor = special if special in SPECIAL_FLAVORS else FLAVOR
            zone = zones[host] if special == 'zone' else None
            out.append(('%s-%s-%d' % (project, host, j), project, host,
                        False, flavor, zone))
    return out


def boot(conn, name, host, flavor, image, group_id, zone=None):
    body = {'server': {'name': name, 'flavorRef': flavor.id,
                       'imageRef': image.id, 'networks': 'none',
                       'host': host}}
    if zone:
        body['server']['availability_zone'] = zone
    if group_id:
        body['os:scheduler_hints'] = {'group': group_id}
    r = conn.compute.post('/servers', json=body, microversion='2.74')
    exceptions.raise_from_response(r)
    return r.json()['server']['id']


def main():
    adm = openstack.connect()  # admin OS_* variables from cloudctl
    projects = ensure_identity(adm)
    flavor = ensure_flavor(adm)
    flavors = {FLAVOR: flavor}
    for name, specs in SPECIAL_FLAVORS.items():
        flavors[name] = ensure_flavor(adm, name, specs)
    image = ensure_image(adm)
    log('identity, flavor %s, image %s ready' % (flavor.id, image.id))
    delete_all_servers(adm)
    hosts = enable_computes(adm)
    if not hosts:
        raise SystemExit('no nova-compute service')
    reset_zones(adm, hosts)
    zones = make_zones(adm, hosts) if ZONES else {}
    for h in hosts:
        rps = adm.placement.get('/resource_providers?name=%s' % h).json()[
            'resource_providers']
        if not rps:
            continue
        inv = adm.placement.get('/resource_providers/%s/inventories'
                                % rps[0]['uuid']).json()['inventories']
        vcpus = inv.get('VCPU', {}).get('total')
        if vcpus is not None and vcpus < PER_HOST:
            raise SystemExit(
                '%s has %s vCPUs < FENIX_SEED_SERVERS_PER_HOST=%d; start the '
                'cloud with a larger FENIX_CLOUD_VCPUS' % (h, vcpus, PER_HOST))

    conns = {p: user_conn(SEEDER, p) for p in TENANTS}
    group = ensure_group(conns['tenant-a'])
    servers = plan(hosts, zones)
    log('booting %d servers on %d hosts' % (len(servers), len(hosts)))

    def do_boot(item):
        name, project, host, in_group, flavor_name, zone = item
        return boot(conns[project], name, host, flavors[flavor_name], image,
                    group.id if in_group else None, zone)

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        ids = list(ex.map(do_boot, servers))

    deadline = time.time() + 600
    while True:
        current = {s.id: s for s in adm.compute.servers(all_projects=True)}
        states = [current[i].status if i in current else 'MISSING'
                  for i in ids]
        bad = [(servers[k][0], current[i].fault) for k, i in enumerate(ids)
               if states[k] == 'ERROR']
        if bad:
            raise SystemExit('servers in ERROR: %s' % bad)
        if all(s == 'ACTIVE' for s in states):
            break
        if time.time() > deadline:
            raise SystemExit('servers not ACTIVE in time: %s' % states)
        time.sleep(1)
    log('%d servers ACTIVE' % len(ids))

    stopped = None
    for k, item in enumerate(servers):
        if item[1] == 'tenant-b':
            stopped = ids[k]
            adm.compute.stop_server(stopped)
            adm.compute.wait_for_server(adm.compute.get_server(stopped),
                                        status='SHUTOFF', wait=120,
                                        interval=1)
            log('stopped %s (%s)' % (item[0], stopped))
            break

    current = {s.id: s for s in adm.compute.servers(all_projects=True)}
    by_project_id = {p.id: n for n, p in projects.items()}
    out = []
    for k, i in enumerate(ids):
        s = current[i]
        name, project, host, in_group, flavor_name, zone = servers[k]
        if s.compute_host != host:
            raise SystemExit('%s landed on %s, expected %s' % (
                name, s.compute_host, host))
        out.append({'id': s.id, 'name': s.name,
                    'project': by_project_id.get(s.project_id),
                    'project_id': s.project_id, 'host': s.compute_host,
                    'status': s.status,
                    'group': GROUP if in_group else None,
                    'flavor': flavor_name, 'zone': zone})
    seed = {
        'servers': out,
        'hosts': hosts,
        'projects': {n: p.id for n, p in projects.items()},
        'users': {n: '%s-user' % n for n in TENANTS},
        'flavor': {'name': FLAVOR, 'id': flavor.id},
        'image': {'name': IMAGE, 'id': image.id},
        'server_groups': {GROUP: {'id': group.id, 'project': 'tenant-a',
                                  'policy': 'anti-affinity'}},
        'stopped': stopped,
        'servers_per_host': PER_HOST,
        # With FENIX_SEED_ZONES=1: host -> zone, the hosts with the trait, each special flavor's extra specs.
        'zones': zones,
        'trait_hosts': {FAST_TRAIT: hosts[:-1]} if zones else {},
        'flavors': SPECIAL_FLAVORS if zones else {},
    }
    with open(os.path.join(D, 'seed.json'), 'w') as f:
        json.dump(seed, f, indent=2)
        f.write('\n')
    write_clouds_yaml()
    log('seeded: %d servers; wrote %s/seed.json and clouds.yaml'
        % (len(out), D))


def cloud_entry(username, project):
    return ('    auth:\n'
            '      auth_url: %s\n'
            '      username: %s\n'
            '      password: %s\n'
            '      project_name: %s\n'
            '      user_domain_name: Default\n'
            '      project_domain_name: Default\n'
            '    region_name: RegionOne\n'
            '    interface: public\n'
            '    identity_api_version: 3\n' % (AUTH_URL, username, PW,
                                               project))


def write_clouds_yaml():
    text = 'clouds:\n  fenix-admin:\n' + cloud_entry('admin', 'admin')
    for t in TENANTS:
        text += '  fenix-%s:\n' % t + cloud_entry('%s-user' % t, t)
    path = os.path.join(D, 'clouds.yaml')
    with open(path + '.tmp', 'w') as f:
        f.write(text)
    os.replace(path + '.tmp', path)


if __name__ == '__main__':
    sys.exit(main())
