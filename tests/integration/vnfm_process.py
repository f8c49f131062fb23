"""The reference VNFM as a process, for the tests that need application managers answering."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import CLOUDS_YAML, ROOT

VNFM = os.path.join(ROOT, "examples", "reference_vnfm", "vnfm.py")


class VnfmProcess:
    """One reference VNFM; ``events`` reads its JSON-lines log."""

    def __init__(self, workdir, port: int, *options: str, cloud: str = "fenix-tenant-a", listen: bool = True) -> None:
        self.log = os.path.join(str(workdir), "vnfm-%d.jsonl" % port)
        self.stderr = open(os.path.join(str(workdir), "vnfm-%d.stderr" % port), "w", encoding="utf-8")
        self.url = "http://127.0.0.1:%d/maintenance" % port
        # The command of docs/vnf_vendor_guide.md (plus where the test wants the log).
        command = [sys.executable, VNFM, "--cloud", cloud]
        if listen:
            command += ["--listen", "127.0.0.1:%d" % port]
        command += [*options, "--log", self.log]
        self.command = command
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=CLOUDS_YAML)
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=self.stderr)
        self.started = self.wait_for(lambda e: e["event"] == "started", timeout=90)

    def events(self) -> list:
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def wait_for(self, match, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [event for event in self.events() if match(event)]
            if found:
                return found[0]
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("no such event in the VNFM log; exit %s; log:\n%s\nstderr:\n%s" % (
            self.proc.poll(), "\n".join(json.dumps(e) for e in self.events()[-15:]), self.stderr_tail()))

    def stderr_tail(self) -> str:
        self.stderr.flush()
        with open(self.stderr.name, encoding="utf-8") as handle:
            return handle.read()[-3000:]

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.stderr.close()
        return code
