#!/usr/bin/env bash
# Verifies the minimum supported Rust versions declared in the Cargo.toml files: the
# core (rust-version 1.85), the adapter crates, the Redis store and tokenctl (1.89) must
# build with exactly those toolchains. Dependencies are resolved afresh in a scratch
# copy with Cargo's MSRV-aware resolver (`fallback`: the newest version of each
# dependency that supports the declared rust-version), as a user on that toolchain would
# get them; the committed Cargo.lock keeps the newest versions.
#
# Needs rustup and a network that reaches the Rust toolchain server; it is not part of
# `.ci/run`, which must work offline apart from the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
git archive HEAD | tar -x -C "$scratch"
target="${CARGO_TARGET_DIR:-$PWD/target}/msrv"

check() {
    local toolchain="$1"
    shift
    rustup toolchain install "$toolchain" --profile minimal >/dev/null
    (cd "$scratch" && rm -f Cargo.lock \
        && CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo "+$toolchain" generate-lockfile -q \
        && CARGO_TARGET_DIR="$target/$toolchain" cargo "+$toolchain" check -q --all-features "$@")
    echo "rust $toolchain: $* builds"
}

check 1.85.0 -p oauth-lifecycle --lib
check 1.89.0 -p oauth-lifecycle-adapter -p oauth-lifecycle-blocking -p oauth-lifecycle-tokio -p oauth-lifecycle-redis --lib
check 1.89.0 -p tokenctl --bins
