"""Every command in the docs runs: each ```shell block of README.md and docs/**/*.md.

The convention (docs/README.md, "Commands in these pages"): a fenced block whose
info string is ``shell`` holds commands an operator types. This test runs each
such block with ``bash -euo pipefail`` in the dev environment (scripts/env.sh),
pointed at the test cloud (its clouds.yaml as OS_CLIENT_CONFIG_FILE, the
OpenStack client of the cloud's venv at the end of PATH, FENIX_CLOUD_KEEP=1),
with HOME in a scratch directory (so ``~/.local/state/fenix.maintenance`` and
``~/.ansible`` are the test's own), under the cloud lock (held from a file's first
block to its last). The blocks of one file run in file order and share one scratch directory, so a block that writes
a file (``cat > maintenance.yml <<'EOF'``) feeds the next ones.

HTML comments on the lines right above a block change how it runs:

- ``<!-- docs-test: cwd scratch -->``: run in the file's scratch directory
  instead of the repo root (``cwd repo`` is the default). The same marker on a
  line of its own, not right above a block, sets the default for the rest of
  the file.
- ``<!-- docs-test: seed -->``: reseed the test cloud first (a maintenance
  needs the seeded layout).
- ``<!-- docs-test: expect-failure TEXT -->``: the block, a single command,
  must exit non-zero with TEXT in its output (a documented failure).
- ``<!-- docs-test: background PORT -->``: a server; it must listen on
  127.0.0.1:PORT within 90 s while still running, then it is stopped.
- ``<!-- docs-test: unchanged PATH -->``: the block must leave PATH (relative
  to the repo root) byte for byte as it was (a regeneration command whose
  output is committed).
- ``<!-- docs-test: timeout SECONDS -->``: longer than the default 900 s.
- ``<!-- docs-test: run-by PATH [PATH...] -->``: not run here because PATH (a
  test or a script) runs it; every command line of the block must appear
  verbatim in a PATH, or be a ``python -m pytest`` of test files of the suite
  that are among the PATHs (scripts/test runs them whole), so the claim cannot
  rot silently.
- ``<!-- docs-test: not-runnable REASON -->``: skipped, and listed with the
  count by ``test_inventory``. Should stay rare.

FENIX_DOCS_KEEP=1 keeps the scratch directories, with each block's output
in block-N.log.

A block that takes the cloud lock itself (mentions /tmp/fenix-cloud.lock) is
run without the test holding it.
"""

from __future__ import annotations

import fcntl
import glob
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLOUD_DIR = os.environ.get("FENIX_CLOUD_DIR", os.path.join(ROOT, ".cloud"))
CLOUDCTL = os.path.join(ROOT, "tests", "integration", "cloud", "cloudctl")
LOCK = "/tmp/fenix-cloud.lock"
DEFAULT_TIMEOUT = 900
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*([a-z-]+)\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)")
KNOWN = {"cwd", "seed", "expect-failure", "background", "unchanged", "timeout", "run-by", "not-runnable"}


@dataclass
class Block:
    doc: str  # relative to ROOT
    index: int  # 1-based among the doc's shell blocks
    line: int  # line of the opening fence
    text: str
    markers: Dict[str, str] = field(default_factory=dict)

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.text.splitlines() if line.strip() and not line.strip().startswith("#")), "")

    @property
    def test_id(self) -> str:
        return "%s#%d-%s" % (self.doc, self.index, re.sub(r"[^\w.@=-]+", "_", self.first_line)[:50].strip("_"))


def documents() -> List[str]:
    found = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    return [os.path.relpath(path, ROOT) for path in found if os.path.isfile(path)]


def parse(doc: str) -> List[Block]:
    """The doc's ```shell blocks with their markers (a marker line right above the fence, or a file-wide cwd)."""
    with open(os.path.join(ROOT, doc), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    blocks: List[Block] = []
    default_cwd = "repo"
    pending: Dict[str, str] = {}
    i = 0
    while i < len(lines):
        marker = MARKER.match(lines[i])
        if marker:
            key, value = marker.groups()
            assert key in KNOWN, "%s:%d: unknown docs-test marker %r (known: %s)" % (doc, i + 1, key, sorted(KNOWN))
            pending[key] = value
            i += 1
            continue
        fence = FENCE.match(lines[i])
        if fence:
            indent, ticks, info = fence.groups()
            body = []
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(ticks[0] * len(ticks)):
                body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
                j += 1
            if info == "shell":
                markers = dict(pending)
                markers.setdefault("cwd", default_cwd)
                blocks.append(Block(doc, len(blocks) + 1, i + 1, "\n".join(body) + "\n", markers))
            elif pending:
                raise AssertionError("%s:%d: docs-test marker above a %r block, not a shell block" % (doc, i + 1, info))
            pending = {}
            i = j + 1
            continue
        if pending and lines[i].strip():
            # Markers not right above a fence: only a file-wide cwd makes sense there.
            assert set(pending) == {"cwd"}, "%s:%d: docs-test marker %s is not right above a shell block" % (
                doc, i, sorted(pending))
            default_cwd = pending["cwd"]
            pending = {}
        i += 1
    return blocks


def all_blocks() -> List[Block]:
    return [block for doc in documents() for block in parse(doc)]


def typed_lines(text: str) -> int:
    """How many commands a block holds: its command lines, heredoc bodies not counted."""
    count, end = 0, None
    for line in commands(text):
        if end is not None:
            end = None if line == end else end
            continue
        count += 1
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)", line)
        end = heredoc.group(1) if heredoc else None
    return count


def commands(text: str) -> List[str]:
    """Command lines with continuations joined, comments and extra whitespace removed (heredoc bodies kept)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    result = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            result.append(re.sub(r"\s+", " ", line))
    return result


# ------------------------------------------------------------------ environment


def dev_env(home: str) -> Dict[str, str]:
    out = subprocess.run(["bash", "-c", '. "$1/scripts/env.sh" && env -0', "env", ROOT],
                         capture_output=True, check=True).stdout.decode()
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    env["OS_CLIENT_CONFIG_FILE"] = os.path.join(CLOUD_DIR, "clouds.yaml")
    env["FENIX_CLOUD_KEEP"] = "1"
    # The operator's OpenStack client: the test cloud's venv has python-openstackclient.
    env["PATH"] = env["PATH"] + ":" + os.path.join(CLOUD_DIR, "venv", "bin")
    env["HOME"] = home
    for name in ("OS_CLOUD", "FENIX_JOURNAL", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    return env


def lock_held_by_ancestor() -> bool:
    """Whether pytest itself runs under ``flock /tmp/fenix-cloud.lock`` (taking it again would deadlock)."""
    pid = os.getppid()
    while pid > 1:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                argv = handle.read().split(b"\0")
            with open("/proc/%d/stat" % pid) as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
        if argv and os.path.basename(argv[0].decode(errors="replace")) == "flock" and LOCK.encode() in argv:
            return True
    return False


class CloudLock:
    """The shared test cloud's lock, held from a doc's first block to its last one.

    A doc's blocks are one sequence (a file written by one is used by the next,
    a failed session is resumed by a later one), so another run in between
    could change what they see; between two docs, others get their turn.
    Not taken when pytest already runs under it.
    """

    def __init__(self) -> None:
        self.handle = None

    def hold(self) -> None:
        if self.handle is None and not LOCK_HELD:
            self.handle = open(LOCK, "a")
            fcntl.flock(self.handle, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


CLOUD_LOCK = CloudLock()


LOCK_HELD = lock_held_by_ancestor()
SCRATCH: Dict[str, str] = {}


def scratch_dir(doc: str) -> str:
    """The doc's scratch directory; the key "~" is the scratch HOME shared by all docs."""
    if doc not in SCRATCH:
        SCRATCH[doc] = tempfile.mkdtemp(prefix="fenix-docs-%s-" % re.sub(r"\W+", "-", doc))
    return SCRATCH[doc]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run_block(block: Block) -> Tuple[int, str, float]:
    """The block's exit code, its output and how long it ran (the wait for the lock left out)."""
    cwd = ROOT if block.markers["cwd"] == "repo" else scratch_dir(block.doc)
    env = dev_env(scratch_dir("~"))
    timeout = int(block.markers.get("timeout") or DEFAULT_TIMEOUT)
    log = os.path.join(scratch_dir(block.doc), "block-%d.log" % block.index)
    if LOCK in block.text:
        CLOUD_LOCK.release()  # the block takes it itself
    else:
        CLOUD_LOCK.hold()
    try:
        if "seed" in block.markers:
            subprocess.run([CLOUDCTL, "seed"], check=True, env=env, capture_output=True)
        started = time.monotonic()
        with open(log, "w") as out:
            process = subprocess.Popen(["bash", "-euo", "pipefail", "-c", block.text], cwd=cwd, env=env,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                if "background" in block.markers:
                    code = wait_listening(process, int(block.markers["background"]))
                else:
                    code = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                code = -9
        seconds = time.monotonic() - started
    finally:
        if block is LAST_OF_DOC[block.doc]:
            CLOUD_LOCK.release()
    with open(log, errors="replace") as handle:
        return code, handle.read(), seconds


def wait_listening(process: subprocess.Popen, port: int) -> int:
    """0 when the server listens within 90 s and stops on SIGTERM; its exit code when it ended by itself."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None and not listening(port):
        time.sleep(0.5)
    if process.poll() is not None:
        return process.returncode or 1
    up = listening(port)
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return 0 if up else 1


def file_digest(path: str) -> Optional[bytes]:
    try:
        with open(os.path.join(ROOT, path), "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


BLOCKS = all_blocks()
LAST_OF_DOC = {block.doc: block for block in BLOCKS}


@pytest.mark.parametrize("block", BLOCKS, ids=[block.test_id for block in BLOCKS])
def test_doc_block(block: Block, test_cloud) -> None:
    if "not-runnable" in block.markers:
        pytest.skip("not-runnable: %s" % block.markers["not-runnable"])
    if "run-by" in block.markers:
        check_run_by(block)
        return
    if "expect-failure" in block.markers:
        # One command, so that the failure is the one the doc shows and not an earlier step's.
        assert len(commands(block.text)) == 1, "%s line %d: an expect-failure block holds one command" % (
            block.doc, block.line)
    watched = block.markers.get("unchanged")
    before = file_digest(watched) if watched else None
    code, output, seconds = run_block(block)
    print("%s line %d: exit %d after %.0f s" % (block.doc, block.line, code, seconds))
    print(output[-5000:])
    where = "%s line %d:\n%s\n--- output (last 5000 characters):\n%s" % (block.doc, block.line, block.text, output[-5000:])
    if "expect-failure" in block.markers:
        assert code != 0, "the block should fail, as the doc says, but exited 0: " + where
        expected = block.markers["expect-failure"]
        assert expected in output, "the block failed, but not with %r: %s" % (expected, where)
    else:
        assert code == 0, "exit %d: %s" % (code, where)
    if watched:
        assert file_digest(watched) == before, "%s changed: the committed file is stale (%s)" % (watched, where)


def check_run_by(block: Block) -> None:
    """Each command of the block is run by one of the run-by PATHs (space-separated).

    A command counts as run when it stands verbatim in a PATH that is a script,
    or when it only runs pytest on PATHs that are tests of the suite
    (tests/unit, tests/integration): scripts/test runs those files whole, so
    running them again from the docs would only repeat the same scenario.
    """
    paths = block.markers["run-by"].split()
    assert paths, "%s line %d: run-by names no file" % (block.doc, block.line)
    runners = []
    for path in paths:
        assert os.path.isfile(os.path.join(ROOT, path)), "%s line %d: run-by %r is not a file" % (
            block.doc, block.line, path)
        with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
            runners.append("\n".join(commands(handle.read())))
    missing = [command for command in commands(block.text)
               if not any(command in runner for runner in runners) and not runs_suite_tests(command, paths)]
    assert not missing, "%s line %d: run-by %s, but %s does not run %s" % (
        block.doc, block.line, " ".join(paths), " ".join(paths), missing)


def pytest_targets(command: str) -> Optional[List[str]]:
    """The test files a ``python -m pytest`` command runs (None for any other command)."""
    words = shlex.split(command.split("&&")[-1])
    for index, word in enumerate(words[:-1]):
        if word == "-m" and words[index + 1] == "pytest":
            return [word.split("::")[0] for word in words[index + 2:] if word.split("::")[0].endswith(".py")]
    return None


def runs_suite_tests(command: str, paths: List[str]) -> bool:
    """Whether the command only runs pytest on test files of the suite that are among ``paths``."""
    targets = pytest_targets(command)
    in_suite = [path for path in paths if path.startswith(("tests/unit/", "tests/integration/"))
                and os.path.basename(path).startswith("test_")]
    return bool(targets) and all(target in in_suite for target in targets)


SHELL_FENCE = re.compile(r"^\s*(?:`{3,}|~{3,})\s*shell(?:\s.*)?$")
# Info strings of blocks that look like commands but that this test would never run.
UNRUN_SHELLS = {"sh", "bash", "zsh", "console", "shell-session", "sh-session"}
REPO_PATH = re.compile(r"(?<![\w/.-])((?:\.?[\w-]+/)+[\w.-]+\.?\w*)")


def test_inventory() -> None:
    """Every ```shell block is found and listed with its file, and every docs-test marker holds.

    A block the parser misses, or one written as ```bash, would never run; a
    marker with a wrong value would fail only on the cloud, or not at all. So:
    the parser finds each ``shell`` fence a plain line match finds; no block
    holds commands under another shell info string; each marker is well formed
    (cwd repo|scratch, seed bare, expect-failure TEXT on a single command,
    background PORT unique, unchanged PATH of an existing file, timeout
    SECONDS); run-by PATH runs every command of its block; not-runnable gives a
    reason naming the existing file that covers the block instead, and stays
    rare (one block in ten at most).
    """
    assert BLOCKS, "no ```shell block found in README.md and docs/"
    for doc in documents():
        with open(os.path.join(ROOT, doc), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        fences = [number for number, line in enumerate(lines, 1) if SHELL_FENCE.match(line)]
        parsed = [block.line for block in BLOCKS if block.doc == doc]
        assert parsed == fences, "%s: ```shell fences on lines %s, but the blocks found start on %s" % (
            doc, fences, parsed)
        infos = [(number, FENCE.match(line).group(3)) for number, line in enumerate(lines, 1) if FENCE.match(line)]
        unrun = [(number, info) for number, info in infos if info in UNRUN_SHELLS]
        assert not unrun, "%s: commands in blocks this test never runs (mark them ```shell): %s" % (doc, unrun)
    ports = [block.markers["background"] for block in BLOCKS if "background" in block.markers]
    assert len(ports) == len(set(ports)), "background ports used twice: %s" % sorted(ports)
    for block in BLOCKS:
        where = "%s line %d" % (block.doc, block.line)
        markers = block.markers
        assert typed_lines(block.text) >= 1, "%s: an empty ```shell block" % where
        assert markers["cwd"] in ("repo", "scratch"), "%s: cwd %r is not repo or scratch" % (where, markers["cwd"])
        assert markers.get("seed", "") == "", "%s: seed takes no value: %r" % (where, markers["seed"])
        if "expect-failure" in markers:
            assert markers["expect-failure"], "%s: expect-failure needs the TEXT of the failure" % where
            assert len(commands(block.text)) == 1, "%s: an expect-failure block holds one command" % where
        if "background" in markers:
            assert markers["background"].isdigit() and 1024 <= int(markers["background"]) <= 65535, (
                "%s: background %r is not a port" % (where, markers["background"]))
        if "unchanged" in markers:
            assert os.path.isfile(os.path.join(ROOT, markers["unchanged"])), "%s: unchanged %r is not a file" % (
                where, markers["unchanged"])
        if "timeout" in markers:
            assert markers["timeout"].isdigit() and int(markers["timeout"]) > 0, "%s: timeout %r is not seconds" % (
                where, markers["timeout"])
        if "run-by" in markers:
            check_run_by(block)
        if "not-runnable" in markers:
            reason = markers["not-runnable"]
            covering = [path for path in REPO_PATH.findall(reason) if os.path.exists(os.path.join(ROOT, path))]
            assert covering, "%s: not-runnable %r names no existing file that covers the block instead" % (
                where, reason)
    run_by = [block for block in BLOCKS if "run-by" in block.markers]
    not_runnable = [block for block in BLOCKS if "not-runnable" in block.markers]
    assert len(not_runnable) * 10 <= len(BLOCKS), "%d of %d blocks are not runnable: they should stay rare" % (
        len(not_runnable), len(BLOCKS))
    count = sum(typed_lines(block.text) for block in BLOCKS)
    print("docs: %d files with shell blocks, %d blocks, %d commands (heredoc bodies not counted); %d run here, %d run by another test, "
          "%d not runnable" % (len({b.doc for b in BLOCKS}), len(BLOCKS), count,
                               len(BLOCKS) - len(run_by) - len(not_runnable), len(run_by), len(not_runnable)))
    for block in BLOCKS:
        how = {"run-by": "run by %s" % block.markers.get("run-by"),
               "not-runnable": "NOT RUNNABLE (%s)" % block.markers.get("not-runnable")}
        status = next((how[key] for key in how if key in block.markers), "run here")
        print("  %s:%d %s: %s" % (block.doc, block.line, block.test_id, status))


LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """A heading's anchor as git forges make it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: str) -> set:
    with open(path, encoding="utf-8") as handle:
        return {slug(line.lstrip("#")) for line in handle if re.match(r"^#{1,6} ", line)}


@pytest.mark.parametrize("doc", documents())
def test_relative_links_resolve(doc: str) -> None:
    """Every relative link of the docs names a file (and a heading) that exists."""
    with open(os.path.join(ROOT, doc), encoding="utf-8") as handle:
        text = re.sub(r"```.*?```", "", handle.read(), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue
        path, dummy, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(ROOT, os.path.dirname(doc), path)) if path else os.path.join(ROOT, doc)
        if not os.path.exists(full):
            broken.append(target)
        elif anchor and full.endswith(".md") and anchor not in anchors(full):
            broken.append(target)
    assert not broken, "%s: links to nothing: %s" % (doc, broken)


def teardown_module(module) -> None:
    CLOUD_LOCK.release()
    if os.environ.get("FENIX_DOCS_KEEP") == "1":  # to read each block's output (block-N.log) afterwards
        print("docs scratch directories (~ is HOME): %s" % SCRATCH)
        return
    for path in SCRATCH.values():
        shutil.rmtree(path, ignore_errors=True)
