# Source me: the environment the scripts run Ansible in.
# shellcheck shell=bash
FENIX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export FENIX_ROOT
export PATH="$FENIX_ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$FENIX_ROOT/.work/collections"
export FENIX_CLOUD_DIR="${FENIX_CLOUD_DIR:-$FENIX_ROOT/.cloud}"
export OS_CLIENT_CONFIG_FILE="$FENIX_CLOUD_DIR/clouds.yaml"
export ANSIBLE_PYTHON_INTERPRETER="$FENIX_ROOT/.venv/bin/python"
export ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_INVENTORY_UNPARSED_WARNING=false
