"""Neutron API WSGI entry point for the fenix test cloud.

Neutron is run with ML2 only (no L3 / port-forwarding service plugins, no
agents).  Then nothing imports the model that defines the backref
Port.port_forwardings, and GET /v2.0/ports (which nova-api calls for every
server view) fails with AttributeError / HTTP 500.  Importing the model fixes
that (together with configuring the mappers).
"""

# uwsgi serves this module's `application`.
from neutron.wsgi.api import application  # noqa: F401  pylint: disable=unused-import

import neutron.db.models.port_forwarding  # noqa: F401,E402  pylint: disable=unused-import
from sqlalchemy import orm  # noqa: E402

# backrefs only exist once the mappers are configured; get_ports reads
# Port.port_forwardings before running its first query
orm.configure_mappers()
