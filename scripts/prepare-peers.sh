#!/usr/bin/env bash
# Installs the real servers the integration tests start on 127.0.0.1: panva's
# oidc-provider (npm, pinned by package-lock.json), django-oauth-toolkit and Authlib (PyPI,
# pinned by dot/requirements.txt and authlib/requirements.txt, in one virtualenv) and
# redis-server (the system's package, for the fleet). Installs Node.js, Python's venv and
# redis-server from the system's packages when they are missing (as root, with apt-get).
# Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/../tests/peers"

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v python3 >/dev/null || missing+=(python3)
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "the integration tests need: ${missing[*]} (install them, or run as root with apt-get)" >&2
    exit 1
  fi
fi

if [ ! -d oidc/node_modules/oidc-provider ] || [ oidc/package-lock.json -nt oidc/node_modules/.package-lock.json ]; then
  (cd oidc && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import oauth2_provider, authlib, flask" 2>/dev/null \
   || [ dot/requirements.txt -nt .venv/.installed ] \
   || [ authlib/requirements.txt -nt .venv/.installed ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r dot/requirements.txt -r authlib/requirements.txt
  touch .venv/.installed
fi
