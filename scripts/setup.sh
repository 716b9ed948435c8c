#!/usr/bin/env bash
# Install what a fresh machine lacks to build and run Lode: the wasm32-wasip2
# Rust target, redis-server, Chromium (the web app's browser tests), the
# openai Python client (tests), the test PDFs and the model files; and check
# for Node.js, which builds the web app. Idempotent: does nothing when all
# are present.
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
# The web app is built with npm (components/ui/web/build.sh); Vite 8 needs
# Node.js 20.19 or newer, which Debian 12's own nodejs (18) is not.
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null; then
  echo "setup: Node.js >= 20.19 with npm is needed to build the web app (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
# Debian's Chromium runs the web app's browser tests (Playwright drives it;
# no browser is ever downloaded).
if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (browser tests)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
# The official OpenAI Python client, for the test of Lode's /v1 surface.
if ! python3 -c 'import openai' 2>/dev/null; then
  echo "setup: installing the openai Python client"
  python3 -m pip install -q openai==3.57.0 >/dev/null
fi
bash "$(dirname "$0")/pdf-corpus.sh"
bash "$(dirname "$0")/models.sh"
