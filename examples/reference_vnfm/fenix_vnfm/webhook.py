# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""The webhook: the HTTP server AODH posts the project's maintenance notifications to."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List, Tuple

from .manager import Vnfm

MAX_BODY = 1024 * 1024  # a notification is a few KiB; refuse anything absurd


class WebhookServer(ThreadingHTTPServer):
    """The URL of the project's AODH alarm_actions (any path): POST a notification, get 200 at once.

    The answer goes out later from a thread of its own, because AODH's
    notifier does not wait long and a late policy may sleep.
    """

    daemon_threads = True

    def __init__(self, address: Tuple[str, int], vnfm: Vnfm) -> None:
        self.vnfm = vnfm
        self.workers: List[threading.Thread] = []  # answers under way, waited for at stop
        self.workers_lock = threading.Lock()
        super().__init__(address, WebhookHandler)

    def dispatch(self, body: Any) -> None:
        worker = threading.Thread(target=self.vnfm.handle_body, args=(body, "webhook"), daemon=True)
        worker.start()
        with self.workers_lock:
            self.workers = [thread for thread in self.workers if thread.is_alive()] + [worker]

    def wait_for_workers(self, timeout: float) -> None:
        with self.workers_lock:
            workers = list(self.workers)
        for worker in workers:
            worker.join(timeout)


class WebhookHandler(BaseHTTPRequestHandler):
    server: WebhookServer

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.reply(413, {"error": "body larger than %d bytes" % MAX_BODY})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError as exc:
            self.server.vnfm.log.write("error", transport="webhook", error="body is not JSON: %s" % exc)
            self.reply(400, {"error": "body is not JSON"})
            return
        self.server.dispatch(body)  # before the 200, so a stop right after it still waits for this answer
        self.reply(200, {})

    def do_GET(self) -> None:  # noqa: N802
        """A readiness probe: who we are and how we answer."""
        vnfm = self.server.vnfm
        self.reply(200, {"project_id": vnfm.project_id, "policy": vnfm.policies.default.describe()})

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args) -> None:  # pylint: disable=redefined-builtin
        pass  # the event log says what matters
