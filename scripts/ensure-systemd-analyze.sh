#!/usr/bin/env bash
# Makes sure `systemd-analyze` is there for the test that checks the service
# unit in deploy/: installs Debian's systemd package (which ships it) if
# absent. It only reads unit files; nothing is started. Safe to run again.
set -euo pipefail

if command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd-analyze: $(command -v systemd-analyze)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "systemd-analyze: installing the systemd package from Debian's packages"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends systemd >/dev/null
command -v systemd-analyze >/dev/null
