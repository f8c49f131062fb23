"""examples/execution_environment: `ansible-builder create` makes a build context with fenix.maintenance in it.

No container engine here: the test checks the context ansible-builder writes,
and does what the image's galaxy and builder stages would do with it (install
the collection from the context's requirements, introspect its dependencies)
on this machine.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from types import SimpleNamespace

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import ROOT, ansible_env, build_collection

EE_DIR = os.path.join(ROOT, "examples", "execution_environment")


def requirement_lines(path: str) -> list:
    """The requirement lines of a pip or bindep file, without comments and blank lines."""
    with open(path) as handle:
        lines = [line.split("#", 1)[0].strip() for line in handle]
    return [line for line in lines if line]


def pip_names(lines: list) -> list:
    return sorted(Requirement(line).name.lower() for line in lines)


@pytest.fixture(scope="module")
def definition():
    with open(os.path.join(EE_DIR, "execution-environment.yml")) as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The definition copied out of the checkout, the tarball built next to it, and the context created."""
    work = tmp_path_factory.mktemp("ee")
    definition_dir = work / "definition"
    shutil.copytree(EE_DIR, definition_dir, ignore=shutil.ignore_patterns("collections", "context"))
    tarball = build_collection(str(definition_dir / "collections"))
    context_dir = work / "context"
    proc = subprocess.run(
        ["ansible-builder", "create", "-f", str(definition_dir / "execution-environment.yml"), "-c", str(context_dir),
         "--output-filename", "Containerfile"],
        capture_output=True, text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return SimpleNamespace(work=work, dir=context_dir, build=context_dir / "_build", tarball=tarball)


@pytest.fixture(scope="module")
def galaxy_stage(context):
    """The collections the image's galaxy stage installs: `ansible-galaxy collection install -r` in _build."""
    collections = context.work / "collections"
    # Only this install may be visible, not the development link of .work/collections.
    env = dict(ansible_env(), ANSIBLE_COLLECTIONS_PATH=str(collections))
    subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "-r", "requirements.yml", "-p", str(collections)],
                   cwd=str(context.build), check=True, capture_output=True, text=True, env=env)
    return collections


@pytest.fixture(scope="module")
def introspected(context, galaxy_stage):
    """What the image's builder stage computes: `introspect --user-bindep` over the installed collections."""
    pip_out, bindep_out = context.work / "requirements.txt", context.work / "bindep.txt"
    subprocess.run(["ansible-builder", "introspect", str(galaxy_stage), "--user-bindep", str(context.build / "bindep.txt"),
                    "--write-pip", str(pip_out), "--write-bindep", str(bindep_out)],
                   check=True, capture_output=True, text=True, env=ansible_env())
    with open(pip_out) as pip_handle, open(bindep_out) as bindep_handle:
        return SimpleNamespace(pip=pip_handle.read().splitlines(), bindep=bindep_handle.read().splitlines())


def test_containerfile_builds_from_the_base_image_with_core_and_runner(context, definition):
    containerfile = (context.dir / "Containerfile").read_text()
    base = definition["images"]["base_image"]["name"]
    interpreter = definition["dependencies"]["python_interpreter"]
    assert 'ARG EE_BASE_IMAGE="%s"' % base in containerfile
    assert "FROM $EE_BASE_IMAGE AS base" in containerfile
    assert 'ARG PYCMD="%s"' % interpreter["python_path"] in containerfile
    assert 'ARG PYPKG="%s"' % interpreter["package_system"] in containerfile
    refs = next(line for line in containerfile.splitlines() if line.startswith("ARG ANSIBLE_INSTALL_REFS="))
    assert definition["dependencies"]["ansible_core"]["package_pip"] in refs
    assert definition["dependencies"]["ansible_runner"]["package_pip"] in refs
    # The galaxy stage installs the requirements, the builder stage introspects what it installed.
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect.py introspect --user-bindep=bindep.txt" in containerfile


def test_context_carries_the_galaxy_requirements_and_the_tarball(context):
    with open(os.path.join(EE_DIR, "requirements.yml")) as handle:
        wanted = yaml.safe_load(handle)
    with open(context.build / "requirements.yml") as handle:
        assert yaml.safe_load(handle) == wanted
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    entry = next(item for item in wanted["collections"] if "fenix-maintenance" in item["name"])
    assert entry["type"] == "file"
    # The requirements name the tarball of galaxy.yml's version, and the context holds this checkout's build of it.
    assert os.path.basename(entry["name"]) == "fenix-maintenance-%s.tar.gz" % version
    assert filecmp.cmp(context.build / entry["name"], context.tarball, shallow=False)


def test_galaxy_stage_installs_fenix_maintenance_from_the_context(galaxy_stage):
    installed = galaxy_stage / "ansible_collections" / "fenix" / "maintenance"
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    with open(installed / "MANIFEST.json") as handle:
        assert yaml.safe_load(handle)["collection_info"]["version"] == version
    with open(installed / "meta" / "execution-environment.yml") as handle:
        assert yaml.safe_load(handle)["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}


def test_introspection_finds_the_collections_python_and_system_packages(introspected):
    ours = [line for line in introspected.pip if line.endswith("# from collection fenix.maintenance")]
    assert len(ours) == len(introspected.pip), introspected.pip
    names = pip_names([line.split("#", 1)[0] for line in ours])
    assert "openstacksdk" in names and "jmespath" in names
    assert names == pip_names(requirement_lines(os.path.join(ROOT, "requirements.txt")))
    system = [line.split("#", 1)[0].strip() for line in introspected.bindep]
    for entry in requirement_lines(os.path.join(ROOT, "bindep.txt")):
        assert "%s  # from collection fenix.maintenance" % entry in introspected.bindep, entry
    assert "openssh-clients [platform:rpm]" in system, "the definition's own system packages are kept"
