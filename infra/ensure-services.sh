#!/usr/bin/env bash
# Make sure RabbitMQ (5672) and Redis (6379) answer on this machine, and with
# --with-postgres (`make test`: the report store's tests) PostgreSQL (5432) too;
# `make demo` needs no PostgreSQL (its reports are in SQLite).
# A server that is installed but stopped is started. One that is not installed is
# installed with apt-get when this runs as root (as infra/ensure-browser.sh does for
# chromium); otherwise the script says exactly what to install and exits 1.
# Never stops or reconfigures a running server.
#
# Environment: PAM_AMQP_HOST/PORT, PAM_REDIS_HOST/PORT, PAM_PG_HOST/PORT (where to look),
# PAM_TEST_PG_URL (a PostgreSQL of your own for the tests: not checked here),
# PAM_SERVICES_NO_INSTALL=1 (never run apt-get, even as root).
set -euo pipefail

WITH_PG=0
for arg in "$@"; do
  case "$arg" in
    --with-postgres) WITH_PG=1 ;;
    *) echo "usage: $0 [--with-postgres]" >&2; exit 2 ;;
  esac
done

AMQP_HOST=${PAM_AMQP_HOST:-127.0.0.1}
AMQP_PORT=${PAM_AMQP_PORT:-5672}
REDIS_HOST=${PAM_REDIS_HOST:-127.0.0.1}
REDIS_PORT=${PAM_REDIS_PORT:-6379}
PG_HOST=${PAM_PG_HOST:-127.0.0.1}
PG_PORT=${PAM_PG_PORT:-5432}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {  # host port name seconds
  local i
  for ((i = 0; i < $4 * 10; i++)); do
    port_open "$1" "$2" && return 0
    sleep 0.1
  done
  echo "error: $3 did not start listening on $1:$2 within $4 s" >&2
  return 1
}

can_install() {
  [ "$(id -u)" = 0 ] && [ -z "${PAM_SERVICES_NO_INSTALL:-}" ] && command -v apt-get >/dev/null
}

APT_UPDATED=0
apt_install() {  # package...
  if [ "$APT_UPDATED" = 0 ]; then
    apt-get update -q >/dev/null
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

missing() {  # name package env-hint
  echo "error: $1 is not running and not installed." >&2
  echo "       Install it: sudo apt-get install $2 (Debian/Ubuntu; run this script as root" >&2
  echo "       and it does so itself), or set $3 to a $1 you run." >&2
  exit 1
}

redis_ok() { port_open "$REDIS_HOST" "$REDIS_PORT" && { ! command -v redis-cli >/dev/null || redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }; }

if redis_ok; then
  echo "redis:    answering on $REDIS_HOST:$REDIS_PORT"
else
  if ! command -v redis-server >/dev/null; then
    can_install || missing Redis redis-server "PAM_REDIS_HOST/PAM_REDIS_PORT"
    echo "redis:    not installed; installing Debian's redis-server"
    apt_install redis-server
  fi
  if ! redis_ok; then  # the package's own start may have brought it up
    echo "redis:    not answering; starting a local redis-server"
    dir=/var/lib/redis; [ -w "$dir" ] || dir=$(mktemp -d)
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
      --appendonly no --dir "$dir" --logfile "$dir/redis-pam.log"
    wait_port "$REDIS_HOST" "$REDIS_PORT" redis 20
  fi
  echo "redis:    answering on $REDIS_HOST:$REDIS_PORT"
fi

if port_open "$AMQP_HOST" "$AMQP_PORT"; then
  echo "rabbitmq: answering on $AMQP_HOST:$AMQP_PORT"
else
  if ! command -v rabbitmq-server >/dev/null; then
    can_install || missing RabbitMQ "rabbitmq-server (3.10 or newer)" "PAM_AMQP_HOST/PAM_AMQP_PORT"
    echo "rabbitmq: not installed; installing Debian's rabbitmq-server (a minute or two)"
    apt_install rabbitmq-server
  fi
  if ! port_open "$AMQP_HOST" "$AMQP_PORT"; then
    echo "rabbitmq: not answering; starting a local rabbitmq-server (takes ~10 s)"
    rabbitmq-server -detached
    wait_port "$AMQP_HOST" "$AMQP_PORT" rabbitmq 90
    rabbitmqctl -q await_startup >/dev/null 2>&1 || true
  fi
  echo "rabbitmq: answering on $AMQP_HOST:$AMQP_PORT"
fi

[ "$WITH_PG" = 1 ] || exit 0

if [ -n "${PAM_TEST_PG_URL:-}" ]; then
  echo "postgres: the report tests use PAM_TEST_PG_URL"
  exit 0
fi
installed_pg=0
if ! port_open "$PG_HOST" "$PG_PORT"; then
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
    can_install || missing PostgreSQL postgresql "PAM_TEST_PG_URL"
    echo "postgres: not installed; installing Debian's postgresql"
    apt_install postgresql
    installed_pg=1
  fi
  if ! port_open "$PG_HOST" "$PG_PORT"; then
    echo "postgres: not answering; starting the local cluster"
    pg_lsclusters -h | while read -r ver name _; do pg_ctlcluster "$ver" "$name" start || true; done
    wait_port "$PG_HOST" "$PG_PORT" postgres 30
  fi
fi
if [ "$installed_pg" = 1 ]; then
  # The tests' default URL (postgresql://postgres@127.0.0.1:5432/test): on the cluster
  # installed just now, let `postgres` in from loopback without a password, as the README
  # asks of a PostgreSQL for the tests.
  pg_lsclusters -h | while read -r ver name _; do
    hba=/etc/postgresql/$ver/$name/pg_hba.conf
    sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    pg_ctlcluster "$ver" "$name" reload
  done
fi
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null && command -v psql >/dev/null \
   && [ "$PG_HOST" = 127.0.0.1 ] \
   && ! runuser -u postgres -- psql -p "$PG_PORT" -tAc "select 1 from pg_database where datname = 'test'" 2>/dev/null | grep -q 1; then
  echo "postgres: creating the tests' database test"
  runuser -u postgres -- createdb -p "$PG_PORT" test \
    || echo "postgres: could not create database test: create it, or set PAM_TEST_PG_URL" >&2
fi
echo "postgres: answering on $PG_HOST:$PG_PORT"
