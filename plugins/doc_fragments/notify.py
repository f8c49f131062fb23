# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0), or at your
# option GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The options of the modules that send notifications to projects (plugins/module_utils/notify/notifier.py).
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - The Fenix Host Maintenance API endpoint the projects reach, ending in C(/v1)
        (for example C(http://maintenance.example.com:12347/v1)). The notifications carry
        C({api_url}/maintenance/{session_id}/{project_id}) as C(instance_ids) and C(reply_url).
      - Defaults to the endpoint of the C(maintenance) service in the cloud's catalog.
        Not used for C(maintenance.host) notifications.
    type: str
  reply_timeout:
    description:
      - Seconds the projects have to answer; the notifications carry now plus this as C(reply_at)
        (UTC, C(YYYY-MM-DD HH:MM:SS) as Fenix writes it).
    type: int
    default: 120
  metadata:
    description:
      - The C(metadata) of the notifications. Defaults to the session's metadata.
    type: dict
  bus:
    description:
      - Publish on the cloud's message bus, as Fenix does, an oslo.messaging notification
        (2.0 envelope, C(publisher_id) C(fenix), priority C(INFO)) with the event type and payload.
        Ceilometer makes an event of it, and AODH fires the projects' event alarms.
      - Needs the Python package kombu on the machine the module runs on.
    type: dict
    suboptions:
      transport_url:
        description:
          - The RabbitMQ transport URL of the cloud, as in nova.conf
            (C(rabbit://user:password@host:5672/vhost), several hosts separated by commas,
            C(?ssl=1) for TLS).
        type: str
        required: true
      exchange:
        description:
          - Exchange to publish on. V(openstack) is oslo.messaging's default C(control_exchange).
          - Ceilometer's notification agent listens only on the exchanges in its
            C([notification] notification_control_exchanges) option, whose default list does not
            hold V(openstack); add the exchange there, or publish on one it listens on.
        type: str
        default: openstack
      topic:
        description:
          - Notification topic; the routing key is C(<topic>.info).
        type: str
        default: notifications
      timeout:
        description:
          - Seconds to wait for the connection to the message bus.
        type: float
        default: 10
      retries:
        description:
          - How many times to retry connecting and publishing.
        type: int
        default: 3
  webhook:
    description:
      - POST each project's notification straight to its URL, in the body AODH's notifier
        sends for an event alarm (C(alarm_id), C(alarm_name), C(severity), C(previous),
        C(current), C(reason), C(reason_data) with the event and its traits), so that VNFMs
        written for AODH read it unchanged. For clouds without Ceilometer and AODH.
    type: dict
    suboptions:
      urls:
        description:
          - The URL (or list of URLs) of each project, by project ID.
        type: dict
        default: {}
      discover_from_aodh:
        description:
          - For projects without an entry in O(webhook.urls), use the http and https
            C(alarm_actions) of their enabled AODH event alarms on the event type sent.
          - Needs an C(alarming) service in the catalog, and admin credentials.
        type: bool
        default: false
      retries:
        description:
          - How many times to retry a POST after a network error, a timeout, HTTP 408, 429 or 5xx.
        type: int
        default: 3
      retry_delay:
        description:
          - Seconds before the first retry; each further retry waits twice as long.
        type: float
        default: 1
      timeout:
        description:
          - Seconds to wait for each POST.
        type: float
        default: 10
notes:
  - At least one of O(bus) and O(webhook) is needed. A notification counts as delivered
    when any of them delivered it; the result has the outcome of each.
  - Project notifications never name a physical host.
"""
