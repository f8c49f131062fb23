"""The unit tests' conftest fails a run that leaves new untracked files in the repo.

A file the pytest process wrote fails the run; one it did not write is named only.

Checked on a scratch git repo holding a copy of tests/unit/conftest.py and a
test that writes into its tree: pytest runs there in a subprocess.
"""

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WRITER = '''
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_writes():
    for name in os.environ.get("WRITE", "").split():
        path = os.path.join(ROOT, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("left behind")
    for name in os.environ.get("WRITE_IN_SUBPROCESS", "").split():
        subprocess.run(["sh", "-c", 'echo left behind > "$1"', "sh", os.path.join(ROOT, name)], check=True)


def test_the_collection_is_importable_without_dot_work():
    import ansible_collections.fenix.maintenance.tests.unit.test_writes as me

    assert os.path.realpath(me.__file__) == os.path.realpath(__file__)
    assert not os.path.exists(os.path.join(ROOT, ".work"))
'''


@pytest.fixture(scope="module")
def scratch_repo(tmp_path_factory):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("repo")
    tests = root / "tests" / "unit"
    tests.mkdir(parents=True)
    shutil.copy(os.path.join(HERE, "conftest.py"), str(tests / "conftest.py"))
    (tests / "test_writes.py").write_text(WRITER)
    (root / ".gitignore").write_text("/ignored/\n__pycache__/\n")
    (root / "untracked-before.txt").write_text("there before the run")
    git = ["git", "-C", str(root), "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", ".gitignore", "tests"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "scratch"], check=True)
    return root


def run_pytest(root, write: str, write_in_subprocess: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, WRITE=write, WRITE_IN_SUBPROCESS=write_in_subprocess, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"],
                          cwd=str(root), env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_run_writing_only_into_ignored_paths_passes(scratch_repo):
    done = run_pytest(scratch_repo, "ignored/journal.sqlite")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert "untracked" not in done.stdout  # neither the ignored file nor the one there before


def test_a_run_leaving_untracked_files_fails_and_names_them(scratch_repo):
    done = run_pytest(scratch_repo, "stray.txt tests/unit/run/api.json", write_in_subprocess="by-a-subprocess.txt")
    try:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "2 passed" in done.stdout  # every test passed: the run fails for what it left
        assert ("ERROR: the test run left 2 untracked file(s) in the repo (%s): stray.txt, tests/unit/run/api.json;"
                % scratch_repo) in done.stdout
        # Another writer (a test's subprocess, or someone editing the tree meanwhile) cannot be told apart.
        assert ("WARNING: 1 new untracked file(s) in the repo during the run, not written by this process"
                in done.stdout)
        assert "?): by-a-subprocess.txt" in done.stdout
    finally:
        for name in ("stray.txt", "by-a-subprocess.txt"):
            os.remove(str(scratch_repo / name))
        shutil.rmtree(str(scratch_repo / "tests" / "unit" / "run"))
