"""Integration tests: the modules run through ansible-playbook against the real test cloud.

The cloud is started (and seeded) by tests/integration/cloud/cloudctl; every
check of an effect reads the cloud again with openstacksdk, independently of
the module under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import openstack
import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLOUDCTL = os.path.join(ROOT, "tests", "integration", "cloud", "cloudctl")
CLOUD_DIR = os.environ.get("FENIX_CLOUD_DIR", os.path.join(ROOT, ".cloud"))
CLOUDS_YAML = os.path.join(CLOUD_DIR, "clouds.yaml")
ADMIN_CLOUD = "fenix-admin"
if os.path.join(ROOT, ".work", "collections") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, ".work", "collections"))


def cloudctl(*args: str) -> None:
    subprocess.run([CLOUDCTL, *args], check=True)


@pytest.fixture(scope="session")
def test_cloud():
    """The running, freshly seeded test cloud (started here when it is not running)."""
    if os.environ.get("FENIX_CLOUD_KEEP") != "1" or not os.path.exists(CLOUDS_YAML):
        cloudctl("start")
        cloudctl("seed")
    os.environ["OS_CLIENT_CONFIG_FILE"] = CLOUDS_YAML
    return CLOUD_DIR


@pytest.fixture(scope="session")
def admin(test_cloud):
    """An openstacksdk connection of our own, to check what the modules did."""
    return openstack.connect(cloud=ADMIN_CLOUD)


@pytest.fixture
def enabled_hosts(admin):
    """Re-enables every compute service after the test, whatever it did."""
    yield
    for service in admin.compute.services(binary="nova-compute"):
        if service.is_forced_down:
            admin.compute.update_service_forced_down(service, forced=False)
        if service.status != "enabled":
            admin.compute.enable_service(service)


class Playbook:
    """Runs module tasks through ansible-playbook and returns their registered results."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.count = 0

    def run(self, *tasks: dict, check: bool = False, diff: bool = False) -> list:
        self.count += 1
        out = os.path.join(self.workdir, "results-%d.json" % self.count)
        play_tasks = []
        for index, task in enumerate(tasks):
            play_tasks.append(dict(task, register="step_%d" % index, ignore_errors=True))
        steps = ", ".join("'step_%d': step_%d" % (i, i) for i in range(len(tasks)))
        play_tasks.append({
            "name": "Save the results",
            "ansible.builtin.copy": {"content": "{{ {%s} | to_json }}" % steps, "dest": out},
            "check_mode": False,
            "diff": False,
        })
        play = [{
            "hosts": "localhost",
            "gather_facts": False,
            "check_mode": check,
            "diff": diff,
            "module_defaults": {"group/fenix.maintenance.maintenance": {"cloud": ADMIN_CLOUD}},
            "tasks": play_tasks,
        }]
        path = os.path.join(self.workdir, "playbook-%d.yml" % self.count)
        with open(path, "w") as handle:
            yaml.safe_dump(play, handle)
        started = time.monotonic()
        proc = subprocess.run(
            ["ansible-playbook", "-i", "localhost,", "-c", "local", path],
            capture_output=True, text=True, env=ansible_env(), check=False,
        )
        sys.stdout.write(proc.stdout[-4000:])
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        with open(out) as handle:
            results = json.load(handle)
        print("playbook %d took %.1fs" % (self.count, time.monotonic() - started))
        return [results["step_%d" % i] for i in range(len(tasks))]


def build_collection(output_dir: str) -> str:
    """ansible-galaxy collection build of this checkout into output_dir; the tarball's path."""
    subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(output_dir), ROOT],
                   check=True, capture_output=True, text=True, env=ansible_env())
    tarballs = [name for name in os.listdir(output_dir) if name.startswith("fenix-maintenance-") and name.endswith(".tar.gz")]
    assert len(tarballs) == 1, tarballs
    return os.path.join(str(output_dir), tarballs[0])


def ansible_env() -> dict:
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(ROOT, ".work", "collections")
    env["ANSIBLE_PYTHON_INTERPRETER"] = sys.executable
    env["OS_CLIENT_CONFIG_FILE"] = CLOUDS_YAML
    env["ANSIBLE_LOCALHOST_WARNING"] = "false"
    env["ANSIBLE_INVENTORY_UNPARSED_WARNING"] = "false"
    return env


@pytest.fixture
def playbook(tmp_path, test_cloud):
    return Playbook(str(tmp_path))


def servers_on(admin, host: str) -> list:
    return list(admin.compute.servers(details=True, all_projects=True, compute_host=host))


def compute_service(admin, host: str):
    return next(iter(admin.compute.services(binary="nova-compute", host=host)))


class ApiService:
    """The maintenance API run by gunicorn in the background, as the maintenance_api module runs it."""

    def __init__(self, run_dir: str, journal: str, auth: str = "keystone", port: int = 12347, launch=None) -> None:
        from ansible_collections.fenix.maintenance.plugins.module_utils.api.launcher import LaunchSettings
        from ansible_collections.fenix.maintenance.plugins.module_utils.api.process import ApiSettings
        self.settings = ApiSettings(
            collections_path=os.path.join(ROOT, ".work", "collections"), run_dir=run_dir, journal=journal,
            bind="127.0.0.1:%d" % port, auth=auth, cloud=ADMIN_CLOUD if auth == "keystone" else None,
            clouds_yaml=CLOUDS_YAML,
            # Most tests here are about the records: a POSTed session runs nothing unless a test says so.
            launch=launch or LaunchSettings(kind="none"))
        self.url = self.settings.url
        self.journal = journal

    def start(self) -> "ApiService":
        from ansible_collections.fenix.maintenance.plugins.module_utils.api.process import start
        self.pid = start(self.settings, timeout=60)["pid"]
        return self

    def kill(self) -> None:
        """SIGKILL the master and its workers at once, as a crash or an OOM kill would."""
        import signal
        os.killpg(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)

    def stop(self) -> None:
        from ansible_collections.fenix.maintenance.plugins.module_utils.api.process import stop
        stop(self.settings)


@pytest.fixture(scope="module")
def api_service(test_cloud, tmp_path_factory):
    """The API with Keystone auth over a fresh SQLite journal, for one test module."""
    workdir = tmp_path_factory.mktemp("api")
    service = ApiService(str(workdir / "run"), str(workdir / "journal.sqlite")).start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def tokens(test_cloud):
    """Real Keystone tokens: the admin's and one per tenant project, with the project ids."""
    result = {}
    for name in ("fenix-admin", "fenix-tenant-a", "fenix-tenant-b", "fenix-tenant-c"):
        conn = openstack.connect(cloud=name)
        result[name] = SimpleNamespace(token=conn.auth_token, project_id=conn.current_project_id)
    return result
