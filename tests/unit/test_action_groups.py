"""meta/runtime.yml's action groups: Ansible hands a group's module_defaults to every member, and a
module fails on an option it does not declare, so a group may only carry options all its members take."""

import glob
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def action_groups() -> dict:
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        return yaml.safe_load(handle)["action_groups"]


def module_options() -> dict:
    """{module: its documented options, doc fragments included} for every module, from one ansible-doc call."""
    collections = next(path for path in sys.path  # tests/unit/conftest.py puts it there
                       if os.path.isdir(os.path.join(path, "ansible_collections", "fenix", "maintenance")))
    modules = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    done = subprocess.run([ansible_doc, "-j", *("fenix.maintenance." + name for name in modules)],
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections),
                          capture_output=True, text=True, check=True)
    docs = json.loads(done.stdout)
    return {name: set(docs["fenix.maintenance." + name]["doc"]["options"]) for name in modules}


def test_group_maintenance_holds_every_module_and_session_every_module_with_a_session_id():
    groups, options = action_groups(), module_options()
    assert sorted(groups["maintenance"]) == sorted(options)
    # The role passes session_id and journal through group session: every member must take both,
    # and a module with a session_id outside the group would silently miss the session.
    assert sorted(groups["session"]) == sorted(name for name, names in options.items() if "session_id" in names)
    assert [name for name in groups["session"] if "journal" not in options[name]] == []
    # A module without them stays out (the role's host_wait_empty would fail on either option).
    assert "host_wait_empty" not in groups["session"] and "session_id" not in options["host_wait_empty"]
