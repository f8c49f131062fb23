# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""The message bus: the cloud's RabbitMQ, read as a Ceilometer notification agent would (--bus; needs kombu)."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from typing import Any, Tuple
from urllib.parse import parse_qs, urlsplit

from .manager import Vnfm


def kombu_url(transport_url: str) -> Tuple[str, bool]:
    """oslo's rabbit://u:p@h1:5672,u:p@h2:5672/vhost as kombu's failover URL, and whether to use TLS."""
    parts = urlsplit(transport_url)
    if parts.scheme not in ("rabbit", "amqp") or not parts.netloc:
        raise ValueError("--bus: give the cloud's transport_url, rabbit://user:password@host:5672/vhost")
    use_ssl = parse_qs(parts.query).get("ssl", ["0"])[-1].lower() in ("1", "true", "yes")
    vhost = parts.path or "/"
    return ";".join("amqp://%s%s" % (host, vhost) for host in parts.netloc.split(",")), use_ssl


class BusConsumer(threading.Thread):
    """Listens for notifications on the cloud's RabbitMQ, as a Ceilometer notification agent would.

    A queue of our own (exclusive, deleted when we leave) is bound to the
    exchange and ``<topic>.info``, so we take nothing from Ceilometer's queue.
    Every project's notifications pass by here; Vnfm.handle keeps ours.
    """

    def __init__(self, transport_url: str, exchange: str, topic: str, vnfm: Vnfm) -> None:
        super().__init__(daemon=True)
        import kombu  # only with --bus
        self.kombu = kombu
        self.url, self.use_ssl = kombu_url(transport_url)
        self.exchange_name = exchange
        self.routing_key = "%s.info" % topic
        self.queue_name = "reference-vnfm-%s-%s" % (vnfm.project_id, uuid.uuid4().hex[:8])
        self.vnfm = vnfm
        self.ready = threading.Event()

    def run(self) -> None:
        durable = False
        while not self.vnfm.stop.is_set():
            try:
                self.consume(durable)
            except Exception as exc:  # pylint: disable=broad-except
                if "PRECONDITION" in str(exc).upper() or "durable" in str(exc):
                    durable = not durable  # the exchange exists with the other durability: take it as it is
                    continue
                self.vnfm.log.write("error", transport="bus", error="%s: %s" % (type(exc).__name__, exc))
                self.vnfm.stop.wait(2)

    def consume(self, durable: bool) -> None:
        kombu = self.kombu
        exchange = kombu.Exchange(self.exchange_name, type="topic", durable=durable, auto_delete=False)
        queue = kombu.Queue(self.queue_name, exchange, routing_key=self.routing_key, exclusive=True, auto_delete=True)
        with kombu.Connection(self.url, ssl=self.use_ssl, connect_timeout=10) as connection:
            with connection.Consumer(queue, callbacks=[self.on_message], accept=["json", "text/plain"], no_ack=True):
                self.ready.set()
                while not self.vnfm.stop.is_set():
                    try:
                        connection.drain_events(timeout=1)
                    except socket.timeout:
                        continue

    def on_message(self, body: Any, _message) -> None:
        if isinstance(body, (bytes, str)):
            try:
                body = json.loads(body)
            except ValueError:
                self.vnfm.log.write("error", transport="bus", error="message is not JSON")
                return
        # Handled in a thread: a late answer must not hold up the next notification.
        threading.Thread(target=self.vnfm.handle_body, args=(body, "bus"), daemon=True).start()
