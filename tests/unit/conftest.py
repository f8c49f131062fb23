"""Unit tests import the collection as ansible_collections.fenix.maintenance.

The repo root is the collection root. Python finds it through a link
``ansible_collections/fenix/maintenance`` in a temporary directory outside the
repo, made when pytest configures (before any test module is imported) and
removed when it ends: a unit test run writes nothing into the tree, so it runs
from a fresh clone where scripts/bootstrap has not made ``.work/`` yet. No
bytecode is written (no __pycache__ in the tree) and Hypothesis' example
database goes to that temporary directory too.

At the end of the session, untracked files that git does not ignore, that were
not there at the start and that this pytest process wrote (an audit hook sees
its writes) fail the run: a test must write into tmp_path, never into the
repo. Other new untracked files are named in a warning only: a subprocess of a
test may have written them, or someone editing the tree meanwhile.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION = ("ansible_collections", "fenix", "maintenance")

# The shared fakes live beside this file.
if HERE not in sys.path:
    sys.path.insert(0, HERE)
# The reference VNFM's package, importable as its entry point vnfm.py imports it (examples/
# reference_vnfm/ is not part of the collection's namespace). Set here and not in a conftest of
# tests/unit/examples: a third module named conftest would shadow tests/integration/conftest.py,
# which the integration tests import by that name.
EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "reference_vnfm")
if EXAMPLE not in sys.path:
    sys.path.insert(0, EXAMPLE)

_session = {}
_REAL_ROOT = os.path.realpath(ROOT)
_written = set()  # paths in the repo this process opened for writing or created
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_CREATE_EVENTS = {"os.mkdir": 0, "os.symlink": 1, "os.link": 1, "os.rename": 1, "os.replace": 1,
                  "shutil.copyfile": 1, "shutil.move": 1}  # event -> the index of the created path


def _audit(event, args):
    """Record the repo paths this process writes (sys.addaudithook: it sees every open and mkdir)."""
    if not _session:
        return
    if event == "open":
        path, mode, flags = args
        if not (mode and any(letter in mode for letter in "wax+")) and not (flags or 0) & _WRITE_FLAGS:
            return
    elif event in _CREATE_EVENTS:
        path = args[_CREATE_EVENTS[event]]
    else:
        return
    if isinstance(path, int) or path is None:
        return
    real = os.path.realpath(os.fsdecode(path))
    if real.startswith(_REAL_ROOT + os.sep):
        _written.add(os.path.relpath(real, _REAL_ROOT))


sys.addaudithook(_audit)


def untracked_files(root):
    """Untracked, not ignored files under ``root`` (None when it is not a git work tree)."""
    try:
        done = subprocess.run(["git", "-C", root, "status", "--porcelain=v1", "-z", "--untracked-files=all"],
                              capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    entries = done.stdout.decode(errors="replace").split("\0")
    return {entry[3:] for entry in entries if entry.startswith("?? ")}


def bootstrap_collections() -> str:
    """scripts/bootstrap's collections directory when its link leads to this repo, else ''."""
    collections = os.path.join(ROOT, ".work", "collections")
    link = os.path.join(collections, *COLLECTION)
    return collections if os.path.realpath(link) == _REAL_ROOT else ""


def pytest_configure(config):
    scratch = tempfile.mkdtemp(prefix="fenix-unit-")
    # Ansible's collection loader needs the collection on exactly one path: in the combined run of
    # scripts/test, tests/integration/conftest.py puts bootstrap's link on sys.path, so the unit tests
    # use it too. Without it (a fresh clone), a link in a temp dir: nothing is written into the repo.
    collections = bootstrap_collections()
    link = None
    if not collections:
        collections = os.path.join(scratch, "collections")
        link = os.path.join(collections, *COLLECTION)
        os.makedirs(os.path.dirname(link))
        os.symlink(ROOT, link)
    if collections not in sys.path:
        sys.path.insert(0, collections)
    _session.update(
        scratch=scratch, collections=collections, link=link, untracked=untracked_files(ROOT),
        dont_write_bytecode=sys.dont_write_bytecode, environ_bytecode=os.environ.get("PYTHONDONTWRITEBYTECODE"),
    )
    # No __pycache__ in the tree, from this process or the Pythons the tests start. (A pycache_prefix
    # would also hide the installed libraries' bytecode: every import compiled again, much slower.)
    sys.dont_write_bytecode = True
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError:
        return
    # Its example database would be .hypothesis/ in the current directory: the repo root.
    set_hypothesis_home_dir(os.path.join(scratch, "hypothesis"))


def pytest_collection_finish(session):
    # Ansible's collection finder scans sys.path too: a second entry holding the collection (even the
    # same directory twice, as a test module's own sys.path.insert made once) fails every plugin load
    # with "this loader requires exactly one path to search", far from the cause.
    holding = [path for path in sys.path if os.path.isdir(os.path.join(path, *COLLECTION))]
    if len(holding) > 1:
        raise pytest.UsageError(
            "the collection is on sys.path %d times (%s): Ansible's collection loader needs exactly one;"
            " a test module adds .work/collections only through tests/integration/conftest.py"
            % (len(holding), ", ".join(holding)))


def pytest_sessionfinish(session, exitstatus):
    before = _session.get("untracked")
    after = untracked_files(ROOT)
    if before is None or after is None:
        return
    new = after - before
    ours = sorted(path for path in new if path in _written)
    others = sorted(new - set(ours))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if others:
        _say(reporter, "WARNING: %d new untracked file(s) in the repo during the run, not written by this process"
             " (a test's subprocess, or someone editing the tree?): %s" % (len(others), ", ".join(others)), False)
    if ours:
        _say(reporter, "ERROR: the test run left %d untracked file(s) in the repo (%s): %s; a test writes into"
             " tmp_path, never into the tree" % (len(ours), ROOT, ", ".join(ours)), True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _say(reporter, message, error):
    if reporter is None:
        sys.stderr.write(message + "\n")
    else:
        reporter.write_line(message, red=error, yellow=not error, bold=error)


def pytest_unconfigure(config):
    if not _session:
        return
    if _session["collections"] in sys.path:
        sys.path.remove(_session["collections"])
    sys.dont_write_bytecode = _session["dont_write_bytecode"]
    if _session["environ_bytecode"] is None:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        os.environ["PYTHONDONTWRITEBYTECODE"] = _session["environ_bytecode"]
    if _session["link"]:
        os.unlink(_session["link"])  # the link first: removing the tree must never follow it into the repo
    shutil.rmtree(_session["scratch"], ignore_errors=True)
    _session.clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    """A journal location of each backend: a SQLite file, or a fresh PostgreSQL database.

    The PostgreSQL server is the one tests/pg/pgctl starts; FENIX_TEST_PG_DSN
    names it (scripts/test sets it).
    """
    if request.param == "sqlite":
        yield str(tmp_path / "journal.sqlite")
        return
    admin_dsn = os.environ.get("FENIX_TEST_PG_DSN")
    if not admin_dsn:
        pytest.skip("FENIX_TEST_PG_DSN is not set (tests/pg/pgctl start; export FENIX_TEST_PG_DSN=$(tests/pg/pgctl dsn))")
    psycopg = pytest.importorskip("psycopg")
    name = "fenix_test_%s" % uuid.uuid4().hex[:12]
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute("CREATE DATABASE %s" % name)
    yield admin_dsn.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE %s WITH (FORCE)" % name)
