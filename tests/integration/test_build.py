"""The collection builds into a tarball that installs and documents every module."""

from __future__ import annotations

import glob
import os
import subprocess

import yaml

from conftest import ROOT, ansible_env, build_collection


def test_build_install_and_document(tmp_path):
    build = tmp_path / "build"
    installed = tmp_path / "installed"
    # Only the fresh install may be visible, not the development link.
    env = dict(ansible_env(), ANSIBLE_COLLECTIONS_PATH=str(installed))
    tarball = build_collection(str(build))
    subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "-p", str(installed), tarball],
                   check=True, capture_output=True, text=True, env=env)
    assert os.path.isfile(installed / "ansible_collections" / "fenix" / "maintenance" / "MANIFEST.json")
    assert not os.path.exists(installed / "ansible_collections" / "fenix" / "maintenance" / "tests" / "integration" / "cloud")

    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        modules = yaml.safe_load(handle)["action_groups"]["maintenance"]
    on_disk = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))
    assert sorted(modules) == on_disk, "every module belongs to the action group"
    for module in modules:
        doc = subprocess.run(["ansible-doc", "fenix.maintenance." + module], env=env,
                             check=True, capture_output=True, text=True).stdout
        assert "fenix.maintenance." + module in doc and "EXAMPLES" in doc and "RETURN VALUES" in doc, module
