"""The reference VNFM's command line (fenix_vnfm/cli.py) and its entry point, examples/reference_vnfm/vnfm.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from fenix_vnfm import cli, protocol
from vnfm_fakes import EXAMPLE


def test_command_line():
    args = cli.parse_args(["--cloud", "c", "--listen", "127.0.0.1:12360", "--policy", "migrate,late=2",
                           "--state-policy", "SCALE_IN=nack"])
    assert args.policies.default == protocol.Policy("migrate", 2) and args.policies.for_state("SCALE_IN").kind == "nack"
    assert cli.listen_address("127.0.0.1:12360") == ("127.0.0.1", 12360)
    assert cli.listen_address(":12360") == ("127.0.0.1", 12360)
    with pytest.raises(SystemExit):
        cli.parse_args(["--cloud", "c"])  # neither webhook nor bus
    with pytest.raises(SystemExit):
        cli.parse_args(["--cloud", "c", "--listen", ":1", "--policy", "maybe"])


def test_constraint_options_come_from_their_flags():
    args = cli.parse_args(["--cloud", "c", "--bus", "rabbit://u:p@h/", "--max-impacted", "2", "--recovery-time", "9",
                           "--max-interruption", "30", "--lead-time", "5", "--resource-mitigation"])
    assert cli.constraint_options(args) == protocol.ConstraintOptions(2, 9, 30, 5, True)
    assert cli.parse_args(["--cloud", "c", "--listen", ":1", "--scale-in-delete", "3"]).scale_in_delete == 3


def environment():
    """The test's environment without the collection on the path: the example stands alone."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def test_vnfm_py_starts_from_another_directory(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(EXAMPLE, "vnfm.py"), "--help"], cwd=str(tmp_path),
                          env=environment(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: vnfm.py") and "--scale-in-delete N" in done.stdout


def test_the_example_folder_works_copied_elsewhere_and_imports_no_collection(tmp_path):
    copy = tmp_path / "my_vnfm"
    shutil.copytree(EXAMPLE, str(copy), ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "my_vnfm/vnfm.py", "--cloud", "c"], cwd=str(tmp_path), env=environment(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "give --listen (webhook) and/or --bus" in done.stderr
    # Every module of the package imports with nothing but the standard library (openstack and kombu come later).
    probe = ("import sys, fenix_vnfm.cli; print(sorted(name.split('.')[0] for name in sys.modules"
             " if name.split('.')[0] in ('ansible_collections', 'ansible', 'openstack', 'kombu')))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=str(copy), env=environment(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr
