#!/usr/bin/env bash
# Installs the real OAuth servers the integration tests start on 127.0.0.1:
# panva's oidc-provider (npm, pinned by package-lock.json) and django-oauth-toolkit
# (PyPI, pinned by requirements.txt, in a virtualenv). Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/../tests/peers"

command -v node >/dev/null || { echo "node is required for the oidc-provider peer" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required for the django-oauth-toolkit peer" >&2; exit 1; }

if [ ! -d oidc/node_modules/oidc-provider ] || [ oidc/package-lock.json -nt oidc/node_modules/.package-lock.json ]; then
  (cd oidc && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import oauth2_provider" 2>/dev/null \
   || [ dot/requirements.txt -nt .venv/.installed ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r dot/requirements.txt
  touch .venv/.installed
fi
