"""Listening to the test cloud's message bus, and reading Nova's versioned notifications as moves.

``Listener`` runs a real oslo.messaging notification listener (oslo_listener.py,
with the cloud's Python) on an exchange and topic, in a pool of its own.
``moves_of`` turns Nova's versioned notifications (exchange ``nova``, topic
``versioned_notifications``) into each server's moves: when Nova began it and
when it ended, which is what an application sees of a maintenance.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, List, Optional

import kombu

from conftest import CLOUD_DIR, CLOUDCTL, ROOT

LISTENER = os.path.join(ROOT, "tests", "integration", "oslo_listener.py")
CLOUD_PYTHON = os.path.join(CLOUD_DIR, "venv", "bin", "python")

# The first and the last versioned notification of a live and of a cold migration.
MOVE_STARTS = ("instance.live_migration_pre.start", "instance.resize_prep.start")
MOVE_ENDS = ("instance.live_migration_post_dest.end", "instance.live_migration_rollback.end",
             "instance.resize_finish.end", "instance.resize_revert.end")


def cloud_transport_url() -> str:
    """The cloud's RabbitMQ URL, as `cloudctl env` gives it (no password in the tests)."""
    output = subprocess.run([CLOUDCTL, "env"], capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        name, _equals, value = line.partition(" ")[2].partition("=")
        if name == "FENIX_CLOUD_TRANSPORT_URL":
            return shlex.split(value)[0]
    raise AssertionError("cloudctl env gives no FENIX_CLOUD_TRANSPORT_URL")


class Listener:
    """The oslo listener subprocess; ``wait_for`` and ``drain`` give what it printed."""

    def __init__(self, transport_url: str, exchange: str, topic: str = "notifications") -> None:
        self.transport_url = transport_url
        self.pool = "fenix-test-%s" % uuid.uuid4().hex[:8]
        env = dict(os.environ, FENIX_TRANSPORT_URL=transport_url)
        self.proc = subprocess.Popen([CLOUD_PYTHON, LISTENER, exchange, topic, self.pool], env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        ready = self.lines.get(timeout=60)
        assert ready == "READY", ready

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def wait_for(self, count: int, match, timeout: float = 30) -> list:
        """The first ``count`` notifications for which ``match(notification)`` holds."""
        found, deadline = [], time.monotonic() + timeout
        while len(found) < count:
            try:
                notification = json.loads(self.lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                break
            if match(notification):
                found.append(notification)
        return found

    def drain(self, quiet: float = 2.0) -> list:
        """Every notification received so far, waiting until none came for ``quiet`` seconds."""
        received = []
        while True:
            try:
                received.append(json.loads(self.lines.get(timeout=quiet)))
            except queue.Empty:
                return received

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        # The pool's queue outlives its listener; nobody else would empty it.
        with kombu.Connection(self.transport_url.replace("rabbit://", "amqp://", 1)) as connection:
            connection.default_channel.queue_delete(self.pool)


@dataclass
class NovaMove:
    server_id: str
    kind: str  # live or cold
    started: datetime
    ended: Optional[datetime]


def notification_time(notification: dict) -> datetime:
    """When Nova sent it (oslo.messaging's metadata timestamp, UTC)."""
    return datetime.strptime(notification["metadata"]["timestamp"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)


def moves_of(notifications: List[dict]) -> Dict[str, List[NovaMove]]:
    """Each server's moves, in order, from Nova's versioned notifications (a move not ended has ended None)."""
    moves: Dict[str, List[NovaMove]] = {}
    for notification in sorted(notifications, key=notification_time):
        event_type = notification["event_type"]
        if event_type not in MOVE_STARTS + MOVE_ENDS:
            continue
        server_id = notification["payload"]["nova_object.data"]["uuid"]
        at = notification_time(notification)
        mine = moves.setdefault(server_id, [])
        if event_type in MOVE_STARTS:
            mine.append(NovaMove(server_id, "live" if "live" in event_type else "cold", at, None))
        elif mine and mine[-1].ended is None:
            mine[-1].ended = at
    return moves


def most_at_once(moves: List[NovaMove]) -> int:
    """The most of ``moves`` under way at one moment."""
    edges = sorted([(move.started, 1) for move in moves] + [(move.ended, -1) for move in moves if move.ended],
                   key=lambda edge: (edge[0], edge[1]))  # an end before a start at the same moment
    most = current = 0
    for _at, step in edges:
        current += step
        most = max(most, current)
    return most
