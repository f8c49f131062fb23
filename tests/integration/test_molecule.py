"""The molecule scenario of extensions/molecule/default, run as a user runs it: `molecule test -s default`.

The scenario maintains two hosts of the test cloud with the reference VNFMs
answering (converge), runs the same converge again and requires it to change
nothing (idempotence), then checks the cloud and the session (verify). Here
the whole sequence must pass, and its output must show that the first
converge did change the hosts while the second changed nothing.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time

from conftest import CLOUD_DIR, ROOT, ansible_env

SCENARIO = "default"
# The command of docs/molecule.md, as it is written there.
COMMAND = "molecule test -s default"
ANSI = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\")
# molecule's step lines: "default ➜ converge: Executing", or "[default > converge] Executing" without colours.
STEP = re.compile(r"^.*?\[?%s (?:➜|>) (\w+)\]?:? (Executing|Executed: \w+.*)$" % SCENARIO, re.MULTILINE)
RECAP = re.compile(r"^\W*(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def molecule_env() -> dict:
    env = ansible_env()
    # molecule and the ansible-playbook it runs come from the venv running the tests.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["FENIX_CLOUD_DIR"] = CLOUD_DIR
    # The scenario checks the servers against the seed: start from a freshly seeded cloud.
    env["FENIX_MOLECULE_RESEED"] = "1"
    return env


def steps(output: str) -> list:
    """[(step, status, its output)] in the order molecule ran them; status is "Executed: ..." ."""
    found = []
    opened = {}
    for match in STEP.finditer(output):
        name, status = match.group(1), match.group(2).strip()
        if status == "Executing":
            opened[name] = match.end()
        elif name in opened:
            found.append((name, status, output[opened.pop(name):match.start()]))
    return found


def flat(text: str) -> str:
    """The text with molecule's box borders and line wrapping taken out, one space between words."""
    return re.sub(r"\s+", " ", re.sub(r"\n\s*[│┌└]", " ", text))


def recaps(text: str) -> dict:
    """{host: (changed, failed)} from the PLAY RECAP lines of one step."""
    return {host: (int(changed), int(failed)) for host, _ok, changed, _unreachable, failed in RECAP.findall(text)}


def test_molecule_test_converges_is_idempotent_and_verifies(test_cloud):
    started = time.monotonic()
    proc = subprocess.run(shlex.split(COMMAND), cwd=ROOT, env=molecule_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1500, check=False)
    output = ANSI.sub("", proc.stdout)
    print(output[-8000:])
    print("molecule test took %.0f s" % (time.monotonic() - started))
    assert proc.returncode == 0, output[-6000:]
    assert "Idempotence test failed" not in output
    ran = steps(output)
    assert [name for name, _status, _text in ran] == [
        "destroy", "syntax", "create", "prepare", "converge", "idempotence", "verify", "destroy"], [r[:2] for r in ran]
    assert all(status == "Executed: Successful" for _name, status, _text in ran), [r[:2] for r in ran]
    text = {name: body for name, _status, body in ran}

    # The first converge maintained both hosts: each of them changed.
    converge = recaps(text["converge"])
    assert {"compute3", "compute4"} <= set(converge), converge
    assert all(converge[host][0] > 0 for host in ("compute3", "compute4")), converge
    assert '"hosts_maintained": "2 of 2"' in flat(text["converge"])
    # The second converge found the session done and changed nothing anywhere.
    again = recaps(text["idempotence"])
    assert again and all(changed == 0 and failed == 0 for changed, failed in again.values()), again
    assert "molecule-rolling-two-hosts is MAINTENANCE_DONE already: nothing to do" in flat(text["idempotence"])
    assert text["verify"].count("All assertions passed") == 3
