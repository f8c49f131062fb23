"""Upgrade plugin restart_compute, for the integration tests: a real nova-compute restart on the test cloud.

Like an upgrade that restarts nova-compute, it stops the host's nova-compute
process (``cloudctl compute-stop``) and returns while it is still down, so
that the health gate after it really waits. A process detached from the task
(``setsid nohup``) starts it again ``down_seconds`` later (``cloudctl
compute-start``), unless ``come_back`` is false: a compute that does not come
back. The compute hosts of the test inventory run their plugins through a
local connection, on the machine of the test cloud.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: restart_compute
short_description: Stops the host's nova-compute of the test cloud, and starts it again later
description:
  - Runs C(cloudctl compute-stop <host>), then, detached from the task, C(cloudctl compute-start <host>) after
    O(down_seconds), and returns at once, while the compute is down.
options:
  cloudctl:
    description: The path of tests/integration/cloud/cloudctl.
    type: str
    required: true
  down_seconds:
    description: How long the compute stays stopped.
    type: float
    default: 5
  come_back:
    description: Start it again; false leaves it stopped (a compute that does not come back).
    type: bool
    default: true
  log:
    description: Where the detached start writes its output.
    type: str
    default: /dev/null
  hosts:
    description: Restart only these hosts' nova-compute; the other hosts of the batch pass at once. All by default.
    type: list
    elements: str
"""

import shlex
from typing import Any, Dict, Optional

from ansible_collections.fenix.maintenance.plugins.plugin_utils.upgrade import UpgradePluginBase


class UpgradePlugin(UpgradePluginBase):
    def run(self, metadata: Dict[str, Any], host: Optional[str], check_mode: bool) -> Dict[str, Any]:
        options = self.options(metadata)
        if options.get("hosts") is not None and host not in options["hosts"]:
            return dict(changed=False, msg="nova-compute of %s left running" % host)
        if check_mode:
            return dict(changed=True, msg="would restart nova-compute of %s" % host)
        cloudctl, name = shlex.quote(options["cloudctl"]), shlex.quote(host)
        script = "%s compute-stop %s" % (cloudctl, name)
        if options["come_back"]:
            later = "sleep %s; exec %s compute-start %s" % (options["down_seconds"], cloudctl, name)
            # Every descriptor away from the task's pipes, or the module would wait for the start.
            detached = "setsid nohup sh -c %s >>%s 2>&1 </dev/null" % (shlex.quote(later), shlex.quote(options["log"]))
            script += " && { %s & }" % detached
        # ansible.builtin.shell is an action over command, not a module of its own: the shell is named here.
        self.raise_if_failed(self.run_module("ansible.builtin.command", {"argv": ["sh", "-c", script]}),
                             "restarting nova-compute")
        if options["come_back"]:
            msg = "stopped nova-compute of %s; it starts again in %s s" % (host, options["down_seconds"])
        else:
            msg = "stopped nova-compute of %s for good" % host
        return dict(changed=True, msg=msg)
