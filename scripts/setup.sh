#!/usr/bin/env bash
# Install what a fresh machine lacks to build and run Lode: the wasm32-wasip2
# Rust target and redis-server. Idempotent: does nothing when both are present.
set -euo pipefail

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 Rust target"
  rustup target add wasm32-wasip2
fi

if ! command -v redis-server >/dev/null 2>&1; then
  echo "setup: installing redis-server"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi
bash "$(dirname "$0")/pdf-corpus.sh"
bash "$(dirname "$0")/models.sh"
