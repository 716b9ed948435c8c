#!/usr/bin/env bash
# Run Lode locally on lode-host. The bootstrap admin key comes from
# SPIN_VARIABLE_ADMIN_API_KEY; when unset, one is generated once and kept in
# .spin/admin_api_key (mode 600) so it survives restarts.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SPIN_VARIABLE_ADMIN_API_KEY:-}" ]; then
  mkdir -p .spin
  if [ ! -s .spin/admin_api_key ]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .spin/admin_api_key)
    echo "up: generated a bootstrap admin key in .spin/admin_api_key"
  fi
  SPIN_VARIABLE_ADMIN_API_KEY="$(cat .spin/admin_api_key)"
  export SPIN_VARIABLE_ADMIN_API_KEY
  echo "up: using the admin key in .spin/admin_api_key (export SPIN_VARIABLE_ADMIN_API_KEY to choose your own)"
fi

# Queued ingestion needs Redis to wake the workers (redis_url, default
# redis://127.0.0.1:6379): start a local redis-server when none answers there.
if [ -z "${SPIN_VARIABLE_REDIS_URL:-}" ] && command -v redis-server >/dev/null \
   && ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  mkdir -p .spin
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$PWD/.spin/redis.pid" --logfile "$PWD/.spin/redis.log"
  echo "up: started redis-server on 127.0.0.1:6379 (log in .spin/redis.log)"
fi

exec target/release/lode-host up "$@"
