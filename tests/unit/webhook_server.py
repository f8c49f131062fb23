"""A local HTTP server that records the JSON bodies POSTed to it (a VNFM's webhook, for tests)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookServer:
    """``with WebhookServer() as hook:`` then POST to ``hook.url(path)``; ``hook.bodies`` holds (path, body)."""

    def __init__(self, statuses=None):
        self.bodies = []
        self.statuses = list(statuses or [])  # statuses of the next answers (200 afterwards)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                owner.bodies.append((self.path, json.loads(self.rfile.read(length))))
                status = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path="/maintenance"):
        return "http://127.0.0.1:%d%s" % (self.server.server_address[1], path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
