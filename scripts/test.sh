#!/usr/bin/env bash
# Runs every test: installs the real OAuth servers the integration tests start on
# 127.0.0.1 (oidc-provider from npm, django-oauth-toolkit from PyPI), then the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare-peers.sh
cargo test --workspace --all-features --all-targets
cargo test --workspace --all-features --doc
