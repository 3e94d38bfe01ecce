#!/usr/bin/env bash
# Installs Debian packages quietly, with sudo when not root: the shared step
# of the ensure-*.sh scripts. Usage: bash scripts/apt-install.sh PACKAGE...
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

echo "apt: installing $* from Debian's packages"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
