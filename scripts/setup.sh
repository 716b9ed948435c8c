#!/usr/bin/env bash
# Install what a fresh machine lacks to build and run Lode: the wasm32-wasip2
# Rust target, redis-server, the openai Python client (tests), the test PDFs
# and the model files. Idempotent: does nothing when all are present.
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
# The real Spin CLI of the tests (../shared/spin) links libssl 3.
if [ -d ../shared/spin ] && ! ldconfig -p | grep -q 'libssl\.so\.3'; then
  echo "setup: installing libssl3 (for the real-Spin test)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libssl3 >/dev/null
fi
# The official OpenAI Python client, for the test of Lode's /v1 surface.
if ! python3 -c 'import openai' 2>/dev/null; then
  echo "setup: installing the openai Python client"
  python3 -m pip install -q openai==3.57.0 >/dev/null
fi
bash "$(dirname "$0")/pdf-corpus.sh"
bash "$(dirname "$0")/models.sh"
