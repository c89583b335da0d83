#!/usr/bin/env bash
# Make sure RabbitMQ (5672), Redis (6379) and PostgreSQL (5432, for the report store's
# tests) answer on this machine.
# Starts a local one that is installed but stopped; otherwise says what to install.
# Never stops or reconfigures a running server.
set -euo pipefail

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

redis_ok() { port_open "$REDIS_HOST" "$REDIS_PORT" && { ! command -v redis-cli >/dev/null || redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }; }

if redis_ok; then
  echo "redis:    answering on $REDIS_HOST:$REDIS_PORT"
elif command -v redis-server >/dev/null; then
  echo "redis:    not answering; starting a local redis-server"
  dir=/var/lib/redis; [ -w "$dir" ] || dir=$(mktemp -d)
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir "$dir" --logfile "$dir/redis-pam.log"
  wait_port "$REDIS_HOST" "$REDIS_PORT" redis 20
else
  echo "error: Redis is not running and redis-server is not installed." >&2
  echo "       Install it (Debian/Ubuntu: sudo apt-get install redis-server) or set" >&2
  echo "       PAM_REDIS_HOST/PAM_REDIS_PORT to a Redis 7 you run." >&2
  exit 1
fi

if port_open "$AMQP_HOST" "$AMQP_PORT"; then
  echo "rabbitmq: answering on $AMQP_HOST:$AMQP_PORT"
elif command -v rabbitmq-server >/dev/null; then
  echo "rabbitmq: not answering; starting a local rabbitmq-server (takes ~10 s)"
  rabbitmq-server -detached
  wait_port "$AMQP_HOST" "$AMQP_PORT" rabbitmq 90
  rabbitmqctl -q await_startup >/dev/null 2>&1 || true
else
  echo "error: RabbitMQ is not running and rabbitmq-server is not installed." >&2
  echo "       Install it (Debian/Ubuntu: sudo apt-get install rabbitmq-server, 3.10 or newer) or" >&2
  echo "       set PAM_AMQP_HOST/PAM_AMQP_PORT to a RabbitMQ you run (guest/guest on loopback)." >&2
  exit 1
fi

if [ -n "${PAM_TEST_PG_URL:-}" ]; then
  echo "postgres: the report tests use PAM_TEST_PG_URL"
elif port_open "$PG_HOST" "$PG_PORT"; then
  echo "postgres: answering on $PG_HOST:$PG_PORT"
elif command -v pg_ctlcluster >/dev/null && [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
  echo "postgres: not answering; starting the local cluster"
  pg_lsclusters -h | while read -r ver name _; do pg_ctlcluster "$ver" "$name" start || true; done
  wait_port "$PG_HOST" "$PG_PORT" postgres 30
else
  echo "error: PostgreSQL is not running and no local cluster is installed." >&2
  echo "       Install it (Debian/Ubuntu: sudo apt-get install postgresql) or set" >&2
  echo "       PAM_TEST_PG_URL to a PostgreSQL the report tests may create schemas in." >&2
  exit 1
fi
