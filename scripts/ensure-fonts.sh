#!/usr/bin/env bash
# Makes sure the DejaVu fonts are there: letters embed DejaVu Sans so that any
# patron's name prints (Polish, Sámi, Hungarian, Cyrillic ...). Installs
# Debian's fonts-dejavu-core if absent. Safe to run again.
set -euo pipefail

font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
if [ -f "$font" ] && [ -f "${font%.ttf}-Bold.ttf" ]; then
  echo "fonts: $font"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "fonts: installing fonts-dejavu-core from Debian's packages"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends fonts-dejavu-core >/dev/null
test -f "$font"
