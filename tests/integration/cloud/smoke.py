"""Smoke test of the fenix test cloud (run by `cloudctl smoke` after `seed`).

Checks what the maintenance modules rely on, with timings:
compute services up, seeded servers where seed.json says, a live migration
(scheduler picks the host), a cold migration + confirm of the SHUTOFF server,
disabling/enabling a compute service with a reason, capacity refusal (a host
filled to its vCPUs refuses one more server: No valid host), and the
400 of a live migration that has no valid host.

It changes the seeded state: run `cloudctl seed` again afterwards.
"""

import json
import os
import sys
import time

import openstack
from openstack import exceptions

D = os.environ['FENIX_CLOUD_DIR']
T0 = time.time()


def log(msg):
    print('[smoke %5.1fs] %s' % (time.time() - T0, msg), flush=True)


def check(cond, msg):
    if not cond:
        raise SystemExit('FAILED: %s' % msg)
    log('ok: %s' % msg)


def wait(conn, sid, pred, timeout=120):
    deadline = time.time() + timeout
    while True:
        s = conn.compute.get_server(sid)
        if pred(s):
            return s
        if s.status == 'ERROR' or time.time() > deadline:
            raise SystemExit('FAILED: server %s: status %s task %s fault %s'
                             % (s.name, s.status, s.task_state, s.fault))
        time.sleep(0.5)


def main():
    conn = openstack.connect(cloud='fenix-admin')
    seed = json.load(open(os.path.join(D, 'seed.json')))
    hosts = seed['hosts']

    svcs = {s.host: s for s in conn.compute.services(binary='nova-compute')}
    check(all(svcs[h].state == 'up' and svcs[h].status == 'enabled'
              for h in hosts), 'nova-compute up and enabled on %s' % hosts)
    hyps = {h.name: h for h in conn.compute.hypervisors(details=True)}
    check(set(hosts) <= set(hyps), 'hypervisors listed: %s' % sorted(hyps))

    actual = {s.id: s for s in conn.compute.servers(all_projects=True)}
    for rec in seed['servers']:
        s = actual[rec['id']]
        assert s.compute_host == rec['host'], (s.name, s.compute_host)
        assert s.status == rec['status'], (s.name, s.status)
    check(True, '%d seeded servers on their hosts, with their status'
          % len(seed['servers']))
    aa = {r['host'] for r in seed['servers'] if r['group']}
    check(len(aa) == len([r for r in seed['servers'] if r['group']]),
          'aa-group members on distinct hosts %s' % sorted(aa))
    hosts_of = {h: [s for s in actual.values() if s.compute_host == h]
                for h in hosts}
    check(list(conn.compute.servers(all_projects=True,
                                    compute_host=hosts[0])) != [],
          'servers(all_projects=True, compute_host=...) filters by host')

    # live migration, scheduler's choice
    rec = next(r for r in seed['servers']
               if r['status'] == 'ACTIVE' and not r['group'])
    t = time.time()
    conn.compute.live_migrate_server(rec['id'], host=None,
                                     block_migration='auto')
    t_accept = time.time() - t
    s = wait(conn, rec['id'], lambda s: s.task_state is None
             and s.compute_host != rec['host'])
    check(s.status == 'ACTIVE', 'live migration %s %s -> %s ACTIVE (%.1fs, '
          'POST took %.1fs)' % (rec['name'], rec['host'], s.compute_host,
                                time.time() - t, t_accept))
    for _attempt in range(40):
        migs = list(conn.compute.migrations(instance_uuid=rec['id']))
        if migs and migs[0].status == 'completed':
            break
        time.sleep(0.5)
    check(migs and migs[0].status == 'completed',
          'migration record %s (%s, %.1fs after the POST)' % (
              migs[0].status, migs[0].migration_type, time.time() - t))

    # cold migration + confirm of the SHUTOFF server
    sid = seed['stopped']
    src = actual[sid].compute_host
    t = time.time()
    conn.compute.migrate_server(sid)
    s = wait(conn, sid, lambda s: s.status == 'VERIFY_RESIZE')
    conn.compute.confirm_server_resize(sid)
    s = wait(conn, sid, lambda s: s.status == 'SHUTOFF'
             and s.task_state is None)
    check(s.compute_host != src, 'cold migration + confirm %s -> %s, '
          'SHUTOFF (%.1fs)' % (src, s.compute_host, time.time() - t))

    # disable with a reason, enable again
    h = hosts[-1]
    svc = svcs[h]
    conn.compute.disable_service(svc, disabled_reason='fenix smoke test')
    svc = _service(conn, h)
    check(svc.status == 'disabled' and
          svc.disabled_reason == 'fenix smoke test',
          'disable nova-compute on %s with a reason' % h)
    conn.compute.enable_service(svc)
    check(_service(conn, h).status == 'enabled',
          'enable it again')

    # capacity: fill the last host to its vCPUs, one more is refused
    total, used = _vcpus(conn, h)
    free = total - used
    image = seed['image']['id']
    tiny = conn.compute.find_flavor('fenix.tiny')
    made = []
    try:
        fill = None
        if free > 0:
            fill = conn.compute.find_flavor('fenix.smoke-fill',
                                            ignore_missing=True)
            if fill is not None and fill.vcpus != free:
                conn.compute.delete_flavor(fill)
                fill = None
            if fill is None:
                fill = conn.compute.create_flavor(
                    name='fenix.smoke-fill', vcpus=free, ram=256, disk=1,
                    is_public=True)

        def boot(name, flavor):
            r = conn.compute.post('/servers', microversion='2.74', json={
                'server': {'name': name, 'flavorRef': flavor.id,
                           'imageRef': image, 'networks': 'none',
                           'host': h}})
            exceptions.raise_from_response(r)
            made.append(r.json()['server']['id'])
            return made[-1]

        if fill is not None:
            fid = boot('smoke-fill', fill)
            wait(conn, fid, lambda s: s.status == 'ACTIVE')
            log('filled %s: %d + %d of %d vCPUs' % (h, used, free, total))
        oid = boot('smoke-overflow', tiny)
        deadline = time.time() + 60
        while True:
            s = conn.compute.get_server(oid)
            if s.status in ('ERROR', 'ACTIVE') or time.time() > deadline:
                break
            time.sleep(0.5)
        check(s.status == 'ERROR' and 'No valid host' in str(s.fault),
              'one more server on full %s refused: %s' % (
                  h, (s.fault or {}).get('message')))

        # live migration of a server of the full host to ... the full
        # host's peers disabled: no valid host -> 400 at once
        others = [x for x in hosts if x != h]
        victim = next(s for s in conn.compute.servers(all_projects=True,
                                                      compute_host=others[0])
                      if s.status == 'ACTIVE')
        for o in others:
            conn.compute.disable_service(svcs[o], disabled_reason='smoke')
        try:
            t = time.time()
            try:
                conn.compute.live_migrate_server(victim, host=None,
                                                 block_migration='auto')
                code = 202
            except exceptions.HttpException as exc:
                code = exc.status_code
            check(code == 400, 'live migration without valid host -> %s '
                  '(%.1fs)' % (code, time.time() - t))
        finally:
            for o in others:
                conn.compute.enable_service(svcs[o])
    finally:
        for sid in made:
            conn.compute.delete_server(sid)
        deadline = time.time() + 120
        while any(_exists(conn, sid) for sid in made):
            if time.time() > deadline:
                raise SystemExit('FAILED: smoke servers not deleted')
            time.sleep(0.5)
    log('all checks passed; run `cloudctl seed` to restore the seeded state')


def _vcpus(conn, host):
    """(total, used) VCPU of a host's resource provider in placement."""
    pl = conn.placement
    rp = pl.get('/resource_providers?name=%s' % host).json()[
        'resource_providers'][0]
    inv = pl.get('/resource_providers/%s/inventories' % rp['uuid']).json()
    use = pl.get('/resource_providers/%s/usages' % rp['uuid']).json()
    return (inv['inventories']['VCPU']['total'],
            use['usages'].get('VCPU', 0))


def _service(conn, host):
    return next(iter(conn.compute.services(binary='nova-compute', host=host)))


def _exists(conn, sid):
    try:
        conn.compute.get_server(sid)
        return True
    except exceptions.NotFoundException:
        return False


if __name__ == '__main__':
    sys.exit(main())
