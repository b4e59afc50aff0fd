#!/usr/bin/env bash
# Runs every test: installs the real OAuth servers the integration tests start on
# 127.0.0.1 (oidc-provider from npm, django-oauth-toolkit from PyPI), then the whole suite,
# then the dependency policy and a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare-peers.sh
cargo test --workspace --all-features --all-targets
cargo test --workspace --all-features --doc

# The dependency policy in deny.toml. (Advisories need the RustSec database from GitHub,
# which these machines cannot reach: docs/security.md says how to run that check.)
if ! cargo deny --version >/dev/null 2>&1; then
    cargo install cargo-deny --version 0.20.2 --locked
fi
cargo deny check licenses bans sources

# Every fuzz target, for seconds; docs/fuzzing.md records the long runs.
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" bash scripts/fuzz.sh
