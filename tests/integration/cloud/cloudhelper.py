"""Helpers of cloudctl, run with the cloud venv and admin OS_* variables.

  cloudhelper.py catalog                       service users, services, endpoints
  cloudhelper.py wait-queue QUEUE TIMEOUT      until a consumer listens on QUEUE
  cloudhelper.py wait-computes N TIMEOUT NOVA_MANAGE
                                               until N nova-compute services are
                                               up, mapped in the cell and listed
                                               as hypervisors
  cloudhelper.py service-report HOST           the time of the last report of
                                               HOST's nova-compute ('none')
  cloudhelper.py wait-compute HOST BEFORE TIMEOUT
                                               until HOST's nova-compute reported
                                               after BEFORE (service-report's
                                               output), is up and consumes its
                                               queue
"""

import subprocess
import sys
import time

PW = 'openstack'
SERVICES = [
    # name, type, url, user
    ('nova', 'compute', 'http://127.0.0.1:8774/v2.1', 'nova'),
    ('placement', 'placement', 'http://127.0.0.1:8778', 'placement'),
    ('glance', 'image', 'http://127.0.0.1:9292', 'glance'),
    ('neutron', 'network', 'http://127.0.0.1:9696', 'neutron'),
]


def connect():
    import openstack
    return openstack.connect()


def catalog():
    conn = connect()
    idt = conn.identity
    domain = idt.find_domain('default')
    project = idt.find_project('service', domain_id=domain.id)
    if project is None:
        project = idt.create_project(name='service', domain_id=domain.id,
                                     description='service users')
    roles = {r.name: r for r in idt.roles()}
    for name in ('admin', 'member', 'reader', 'service'):
        if name not in roles:
            roles[name] = idt.create_role(name=name)
    services = {s.type: s for s in idt.services()}
    endpoints = {(e.service_id, e.interface) for e in idt.endpoints()}
    for name, stype, url, user in SERVICES:
        u = idt.find_user(user, domain_id=domain.id)
        if u is None:
            u = idt.create_user(name=user, password=PW, domain_id=domain.id,
                                default_project_id=project.id)
        for role in ('admin', 'service'):
            idt.assign_project_role_to_user(project, u, roles[role])
        svc = services.get(stype)
        if svc is None:
            svc = idt.create_service(name=name, type=stype)
        for iface in ('public', 'internal', 'admin'):
            if (svc.id, iface) not in endpoints:
                idt.create_endpoint(service_id=svc.id, interface=iface,
                                    url=url, region_id='RegionOne')
    print('catalog ready')


def consumers(queue):
    """Number of consumers of a RabbitMQ queue (0 if it does not exist)."""
    import kombu
    try:
        with kombu.Connection('amqp://guest:guest@127.0.0.1:5672//',
                              connect_timeout=3) as c:
            return c.channel().queue_declare(queue, passive=True)[2]
    except Exception:  # queue not there yet, broker not up, ...
        return 0


def wait_queue(queue, timeout):
    deadline = time.time() + float(timeout)
    while time.time() < deadline:
        if consumers(queue) > 0:
            return 0
        time.sleep(0.3)
    print('no consumer on queue %s after %ss' % (queue, timeout),
          file=sys.stderr)
    return 1


def mapped_hosts():
    import pymysql
    db = pymysql.connect(host='127.0.0.1', port=3306, user='openstack',
                         password=PW, database='nova_api')
    try:
        with db.cursor() as cur:
            cur.execute('SELECT host FROM host_mappings')
            return {r[0] for r in cur.fetchall()}
    finally:
        db.close()


def wait_computes(n, timeout, nova_manage):
    n = int(n)
    want = {'compute%d' % i for i in range(1, n + 1)}
    conn = connect()
    deadline = time.time() + float(timeout)
    up_since = None
    state = ''
    while time.time() < deadline:
        try:
            # 'up' in the API only means a heartbeat within service_down_time: also
            # require the compute to consume its RPC queue (fresh broker)
            up = {s.host for s in conn.compute.services(binary='nova-compute')
                  if s.state == 'up' and s.host in want
                  and consumers('compute.%s' % s.host) > 0}
            hyp = {h.name for h in conn.compute.hypervisors()}
            mapped = mapped_hosts()
        except Exception as exc:  # APIs still warming up
            state = 'error: %s' % exc
            time.sleep(1)
            continue
        state = 'up=%s hypervisors=%s mapped=%s' % (
            sorted(up & want), sorted(hyp & want), sorted(mapped & want))
        if want <= up and want <= hyp and want <= mapped:
            return 0
        if want <= up:
            # the scheduler discovers hosts every 5 s; help it if it lags
            up_since = up_since or time.time()
            if time.time() - up_since > 12:
                subprocess.run(nova_manage.split() +
                               ['cell_v2', 'discover_hosts'], check=False)
                up_since = time.time()
        time.sleep(1)
    print('computes not ready after %ss: %s' % (timeout, state),
          file=sys.stderr)
    return 1


def compute_service(conn, host):
    for service in conn.compute.services(binary='nova-compute', host=host):
        if service.host == host:
            return service
    raise SystemExit('no nova-compute service on %s' % host)


def service_report(host):
    print(compute_service(connect(), host).updated_at or 'none')


def wait_compute(host, before, timeout):
    """A report newer than ``before`` proves the new process runs: Nova
    shows a stopped compute 'up' until service_down_time has passed."""
    conn = connect()
    deadline = time.time() + float(timeout)
    state = ''
    while time.time() < deadline:
        try:
            service = compute_service(conn, host)
            queue = consumers('compute.%s' % host)
        except Exception as exc:  # an API restarting under load
            state = 'error: %s' % exc
            time.sleep(1)
            continue
        state = 'state=%s last report=%s (before: %s) queue consumers=%d' % (
            service.state, service.updated_at, before, queue)
        if (service.state == 'up' and (service.updated_at or 'none') != before
                and queue > 0):
            return 0
        time.sleep(1)
    print('nova-compute of %s not back after %ss: %s' % (host, timeout, state),
          file=sys.stderr)
    return 1


def main(argv):
    cmd = argv[1]
    if cmd == 'catalog':
        return catalog()
    if cmd == 'wait-queue':
        return wait_queue(argv[2], argv[3])
    if cmd == 'wait-computes':
        return wait_computes(argv[2], argv[3], argv[4])
    if cmd == 'service-report':
        return service_report(argv[2])
    if cmd == 'wait-compute':
        return wait_compute(argv[2], argv[3], argv[4])
    raise SystemExit('unknown command %s' % cmd)


if __name__ == '__main__':
    sys.exit(main(sys.argv) or 0)
