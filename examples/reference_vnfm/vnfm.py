# -*- coding: utf-8 -*-
# Copyright: fenix.maintenance contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""A reference application manager (VNFM) for the Fenix Host Maintenance API v1.

It is what a VNF vendor has to build to take part in rolling maintenance of
an OpenStack cloud run by fenix.maintenance (or by Fenix):

1. hear about maintenance: a webhook (the body AODH posts when the project's
   ``maintenance.scheduled`` event alarm fires) and/or the cloud's message bus;
2. read the project's affected instances from the URL in the notification;
3. answer with ACK or NACK and, when asked, an action per instance
   (LIVE_MIGRATE, MIGRATE or OWN_ACTION), retrying until the API says 200;
4. tell the API its constraints once (an instance group from its Nova server
   group, and each member's migration type);
5. after each move (INSTANCE_ACTION_DONE) and at the end (MAINTENANCE_COMPLETE),
   check that its instances are ACTIVE.

How it answers is a policy given on the command line, so that tests and demos
can play every kind of tenant: a cooperative one, one that refuses, one that
never answers, one that answers late. Everything it receives, decides and
sends is appended to a JSON-lines event log.

This file only starts it. The protocol is fenix_vnfm/protocol.py (no I/O:
read it first), what is done with each notification fenix_vnfm/manager.py;
the rest of fenix_vnfm/ is plumbing (README.md beside this file lists it).

Needs Python 3.8+ and openstacksdk (for its Keystone token and its servers);
kombu only with --bus. See README.md beside this file and docs/vnf_vendor_guide.md.

    python vnfm.py --cloud fenix-tenant-a --listen 127.0.0.1:12360 --policy live_migrate
"""

import sys

# Python puts this file's directory first on sys.path, so the package beside it imports from anywhere.
from fenix_vnfm.cli import main

if __name__ == "__main__":
    sys.exit(main())
