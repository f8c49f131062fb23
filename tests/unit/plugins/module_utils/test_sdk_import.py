"""openstacksdk is imported when a module opens a connection, not when it starts: most tasks of a run only use
the journal, and the import takes about a third of a second of each."""

import os
import subprocess
import sys

import pytest

from ansible_collections.fenix.maintenance.plugins.module_utils import base

# The directory that holds ansible_collections/fenix/maintenance: base.py is in plugins/module_utils of it.
COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(base.__file__), *[os.pardir] * 5))


def imported_after(statement: str) -> set:
    """Which of openstack, keystoneauth1 a fresh interpreter has imported after ``statement``."""
    code = "import sys; sys.path.insert(0, %r); %s; print(' '.join(sorted(name for name in ('openstack', " \
           "'keystoneauth1') if name in sys.modules)))" % (COLLECTIONS, statement)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize("module", ["maintenance_session", "maintenance_session_info", "project_notify",
                                    "project_reply_wait", "maintenance_lease", "compute_service"])
def test_starting_a_module_imports_no_sdk(module):
    assert imported_after("import ansible_collections.fenix.maintenance.plugins.modules.%s" % module) == set()


def test_opening_a_connection_imports_it():
    statement = ("from ansible_collections.fenix.maintenance.plugins.module_utils.cloud.connection import connect; "
                 "connect({'cloud': {'auth_type': 'none', 'auth': {'endpoint': 'http://127.0.0.1:9'}}})")
    assert imported_after(statement) == {"openstack", "keystoneauth1"}
