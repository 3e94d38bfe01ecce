#!/usr/bin/env bash
# Makes sure Debian's Dovecot IMAP server is installed, for the test of the
# bounce mailbox poller. The test starts a Dovecot of its own (its own
# configuration, port and mail folder in a temporary folder, as the package's
# dovecot and dovenull users) and stops it after; this script only installs
# the program. Safe to run again.
set -euo pipefail

if [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/imap ]; then
  bash "$(dirname "$0")/apt-install.sh" dovecot-imapd
fi

if /usr/sbin/dovecot --version >/dev/null 2>&1; then
  echo "dovecot: $(/usr/sbin/dovecot --version)"
else
  echo "dovecot: could not install dovecot-imapd" >&2
  exit 1
fi
