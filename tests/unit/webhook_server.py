"""A local HTTP(S) server that records the JSON bodies POSTed to it (a VNFM's webhook, for tests)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG_UP = None  # a status that answers nothing: the connection is closed without a response


class WebhookServer:
    """``with WebhookServer() as hook:`` then POST to ``hook.url(path)``; ``hook.bodies`` holds (path, body).

    ``statuses`` are the statuses of the next answers (200 afterwards; HANG_UP closes the connection
    instead); ``delay`` seconds pass before each answer; ``tls`` is (certificate file, key file) to serve HTTPS.
    """

    def __init__(self, statuses=None, delay=0.0, tls=None):
        self.bodies = []
        self.statuses = list(statuses or [])
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                owner.bodies.append((self.path, json.loads(self.rfile.read(length))))
                status = owner.statuses.pop(0) if owner.statuses else 200
                time.sleep(delay)
                if status is HANG_UP:
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path="/maintenance"):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.server.server_address[1], path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
