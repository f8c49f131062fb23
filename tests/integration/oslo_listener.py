"""A real oslo.messaging notification listener, as Ceilometer's notification agent runs one.

Run it with the test cloud's Python (which has oslo.messaging):

    FENIX_TRANSPORT_URL=rabbit://... .cloud/venv/bin/python oslo_listener.py EXCHANGE TOPIC POOL

It prints ``READY`` once its queue is bound, then one JSON line per
notification received ({ctxt, publisher_id, event_type, payload, metadata,
priority}), and stops when its standard input closes. The pool gives it a
queue of its own, so it competes with no other consumer of the topic.
"""

import json
import os
import sys
import threading

from oslo_config import cfg
import oslo_messaging


class Printer:
    """Endpoint for every priority: each notification as a JSON line."""

    def _emit(self, priority, ctxt, publisher_id, event_type, payload, metadata):
        line = json.dumps({"priority": priority, "ctxt": ctxt, "publisher_id": publisher_id,
                           "event_type": event_type, "payload": payload, "metadata": metadata})
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._emit("info", ctxt, publisher_id, event_type, payload, metadata)

    def warn(self, ctxt, publisher_id, event_type, payload, metadata):
        self._emit("warn", ctxt, publisher_id, event_type, payload, metadata)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._emit("error", ctxt, publisher_id, event_type, payload, metadata)


def main():
    exchange, topic, pool = sys.argv[1:4]
    conf = cfg.ConfigOpts()
    conf([], project="fenix-test-listener")
    transport = oslo_messaging.get_notification_transport(conf, url=os.environ["FENIX_TRANSPORT_URL"])
    targets = [oslo_messaging.Target(topic=topic, exchange=exchange)]
    listener = oslo_messaging.get_notification_listener(transport, targets, [Printer()], executor="threading",
                                                        pool=pool)
    listener.start()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    listener.stop()
    listener.wait()
    transport.cleanup()


if __name__ == "__main__":
    main()
