#!/usr/bin/env bash
# Makes sure a MariaDB server answers on 127.0.0.1:3306 for root without a
# password, as the tests and the demo expect: installs it from Debian's
# packages if absent, starts it if stopped. Safe to run again.
set -euo pipefail

ping_tcp() { mariadb-admin --protocol=tcp -h127.0.0.1 -P3306 -uroot ping >/dev/null 2>&1; }

if command -v mariadb-admin >/dev/null 2>&1 && ping_tcp; then
  echo "mariadb: running on 127.0.0.1:3306"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if [ ! -x /usr/sbin/mariadbd ]; then
  echo "mariadb: installing mariadb-server from Debian's packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mariadb-server mariadb-client >/dev/null
fi

if [ ! -d /var/lib/mysql/mysql ]; then
  echo "mariadb: initialising the data directory"
  $SUDO mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
fi
$SUDO mkdir -p /run/mysqld
$SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true

if ! mariadb-admin ping >/dev/null 2>&1; then
  echo "mariadb: starting the server"
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
fi

for _ in $(seq 1 60); do
  if mariadb-admin ping >/dev/null 2>&1 || ping_tcp; then break; fi
  sleep 1
done

if ! ping_tcp; then
  # A fresh Debian install lets root in over the socket only; allow an empty password over TCP too.
  $SUDO mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" || true
fi

if ping_tcp; then
  echo "mariadb: running on 127.0.0.1:3306"
else
  echo "mariadb: could not reach a server on 127.0.0.1:3306 as root" >&2
  exit 1
fi
