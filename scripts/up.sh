#!/usr/bin/env bash
# Run Lode locally on lode-host. The bootstrap admin key comes from
# SPIN_VARIABLE_ADMIN_API_KEY and the session-token secret from
# SPIN_VARIABLE_JWT_SECRET; when unset, each is generated once and kept in
# .spin/ (mode 600) so it survives restarts.
set -euo pipefail
cd "$(dirname "$0")/.."

# A secret variable from the environment, or else generated once into
# .spin/<file> (mode 600) so it survives restarts.
secret_variable() {
  local var=$1 file=.spin/$2 what=$3
  if [ -z "${!var:-}" ]; then
    mkdir -p .spin
    if [ ! -s "$file" ]; then
      (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file")
      echo "up: generated $what in $file"
    fi
    export "$var=$(cat "$file")"
    echo "up: using $what in $file (export $var to choose your own)"
  fi
}
secret_variable SPIN_VARIABLE_ADMIN_API_KEY admin_api_key "the bootstrap admin key"
# User login signs session tokens (HS256) with it.
secret_variable SPIN_VARIABLE_JWT_SECRET jwt_secret "the session-token secret"

# Queued ingestion needs Redis to wake the workers (redis_url, default
# redis://127.0.0.1:6379): start a local redis-server when none answers there.
if [ -z "${SPIN_VARIABLE_REDIS_URL:-}" ] && command -v redis-server >/dev/null \
   && ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  mkdir -p .spin
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$PWD/.spin/redis.pid" --logfile "$PWD/.spin/redis.log"
  echo "up: started redis-server on 127.0.0.1:6379 (log in .spin/redis.log)"
fi

echo "up: open the web app at http://127.0.0.1:3000/ (unless --listen says otherwise) and sign in with the bootstrap admin key"
exec target/release/lode-host up "$@"
