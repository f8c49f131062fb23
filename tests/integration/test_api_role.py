"""The maintenance_api role: background mode on the controller, and the systemd mode's installation."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import urllib.request

import pytest

from conftest import ADMIN_CLOUD, CLOUDS_YAML


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def role(**variables) -> dict:
    return {"ansible.builtin.include_role": {"name": "fenix.maintenance.maintenance_api"}, "vars": variables}


def test_background_mode_starts_and_stops(playbook, tmp_path):
    common = dict(maintenance_api_run_dir=str(tmp_path / "run"), maintenance_api_bind="127.0.0.1:12353",
                  maintenance_api_cloud=ADMIN_CLOUD, maintenance_api_journal=str(tmp_path / "journal.sqlite"))
    playbook.run(role(**common))
    assert answers("http://127.0.0.1:12353/")
    with open(tmp_path / "run" / "api.log") as handle:
        assert "Listening at: http://127.0.0.1:12353" in handle.read()
    playbook.run(role(maintenance_api_state="stopped", **common))
    assert not answers("http://127.0.0.1:12353/")


def test_background_mode_refuses_keystone_without_a_cloud(playbook, tmp_path):
    # The playbook's module_defaults give every module the admin cloud; null takes it away again.
    failed, = playbook.run({"fenix.maintenance.maintenance_api": {
        "collections_path": os.path.join(os.path.dirname(CLOUDS_YAML), "..", ".work", "collections"),
        "run_dir": str(tmp_path / "run"), "cloud": None}})
    assert failed["failed"] and "cloud: the service needs credentials" in failed["msg"]


def test_systemd_mode_installs_a_service_that_runs(playbook, tmp_path):
    install_dir, unit_dir = tmp_path / "opt", tmp_path / "units"
    unit_dir.mkdir()
    playbook.run(role(maintenance_api_mode="systemd", maintenance_api_install_dir=str(install_dir),
                      maintenance_api_unit_dir=str(unit_dir), maintenance_api_start_service=False,
                      maintenance_api_bind="127.0.0.1:12354", maintenance_api_cloud=ADMIN_CLOUD,
                      maintenance_api_clouds_yaml=CLOUDS_YAML,
                      maintenance_api_journal=str(tmp_path / "journal.sqlite")))
    unit = (unit_dir / "fenix-maintenance-api.service").read_text()
    environment = dict(re.findall(r'^Environment="?([A-Z_]+)=(.*?)"?$', unit, re.M))
    assert environment["FENIX_API_CLOUD"] == ADMIN_CLOUD and environment["FENIX_API_AUTH"] == "keystone"
    # The launcher's settings (a Controller token among them) are in a file only root reads.
    launcher_env = re.search(r"^EnvironmentFile=(.*)$", unit, re.M).group(1)
    assert launcher_env == str(install_dir / "launcher.env")
    assert stat.S_IMODE(os.stat(launcher_env).st_mode) == 0o600
    with open(launcher_env) as handle:
        environment.update(re.findall(r"^([A-Z_]+)=(.*)$", handle.read(), re.M))
    assert environment["FENIX_API_LAUNCHER"] == "none"  # systemd mode's host has no Ansible to run sessions
    command = shlex.split(re.search(r"^ExecStart=(.*)$", unit, re.M).group(1))
    assert command[0] == str(install_dir / "venv" / "bin" / "python")
    # Run the unit's own command line, as systemd would, from the installed copy only.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **environment}
    process = subprocess.Popen(command, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        from ansible_collections.fenix.maintenance.plugins.module_utils.api.process import wait_ready
        wait_ready("http://127.0.0.1:12354/v1", 60, process)
        request = urllib.request.Request("http://127.0.0.1:12354/v1/maintenance")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 401
    finally:
        process.terminate()
        out = process.communicate(timeout=30)[0].decode(errors="replace")
    assert "Booting worker" in out
