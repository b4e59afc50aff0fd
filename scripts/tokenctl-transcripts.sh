#!/usr/bin/env bash
# Runs tokenctl against every emulated provider (served on 127.0.0.1 by the emulator's
# `serve` example) and prints the session transcripts docs/tokenctl.md shows, as
# Markdown. Tokens printed by `token` are replaced by <access token>; nothing else is
# edited. Usage: bash scripts/tokenctl-transcripts.sh > /tmp/transcripts.md
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p tokenctl
cargo build -q -p oauth-lifecycle-emulator --example serve
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
trap 'kill "$serve_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkfifo "$work/serve-stdin"
"$target/debug/examples/serve" < "$work/serve-stdin" > "$work/urls" &
serve_pid=$!
exec 3> "$work/serve-stdin"
for _ in $(seq 100); do grep -q READY "$work/urls" 2>/dev/null && break; sleep 0.1; done
url() { awk -v name="$1" '$1 == name { print $2 }' "$work/urls"; }

mkdir -p "$work/bin"
ln -s "$PWD/$target/debug/tokenctl" "$work/bin/tokenctl"
export PATH="$work/bin:$PATH"
export TOKENCTL_CONFIG="$work/config/config.toml" TOKENCTL_STATE_DIR="$work/state"
tokens=()

# Prints `$ command` and its output (stdout and stderr), then the exit code if not 0.
show() {
  local out status=0
  out=$("$@" 2>&1) || status=$?
  if [[ $1 == tokenctl && $2 == token && $* != *--dry-run* && $status == 0 ]]; then
    tokens+=("$(printf '%s\n' "$out" | head -n1 | sed -e 's/^Authorization: Bearer //' -e 's/.*"access_token":"\([^"]*\)".*/\1/')")
  fi
  printf '$'
  for arg in "$@"; do
    if [[ $arg == *[[:space:]\"\$\']* ]]; then printf " '%s'" "$arg"; else printf ' %s' "$arg"; fi
  done | sed "s#$work#~#g"
  printf '\n'
  if [[ -n $out ]]; then printf '%s\n' "$out"; fi
  if [[ $status != 0 ]]; then printf '[exit %s]\n' "$status"; fi
}

transcript() {
  local title=$1; shift
  printf '### %s\n\n```console\n' "$title"
  "$@" > "$work/out"
  local text; text=$(sed -e "s#$work#~#g" "$work/out")
  for token in "${tokens[@]:-}"; do
    [[ -n $token ]] && text=${text//"$token"/<access token>}
  done
  printf '%s\n```\n\n' "$text"
  tokens=()
}

v3() {
  show tokenctl init -p v3 --provider convirza-v3 --base-url "$(url convirza-v3)" \
    --username user@example.com --password-env CONVIRZA_PASSWORD
  export CONVIRZA_PASSWORD='SecurePassword123!'
  printf '$ export CONVIRZA_PASSWORD=…\n'
  show tokenctl token -p v3
  show tokenctl token -p v3 --format json
  show tokenctl inspect -p v3
  show tokenctl refresh -p v3 --dry-run
  show tokenctl refresh -p v3
  printf '$ tokenctl token -p v3 --format curl-config | curl -sS -K - %s/api/profile\n' "$(url convirza-v3)"
  tokenctl token -p v3 --format curl-config | curl -sS -K - "$(url convirza-v3)/api/profile"; echo
  show tokenctl exec -p v3 -- sh -c 'test -n "$ACCESS_TOKEN" && echo "the command got a token of ${#ACCESS_TOKEN} characters"'
  show tokenctl revoke -p v3
  show tokenctl token -p v3
  show tokenctl logout -p v3
}

v2() {
  show tokenctl init -p v2 --provider convirza-v2 --token-url "$(url convirza-v2)/oauth/token" \
    --client-id system --client-secret-env CONVIRZA_V2_SECRET --username user@convirza.com \
    --password-env CONVIRZA_V2_PASSWORD
  printf '$ export CONVIRZA_V2_SECRET=… CONVIRZA_V2_PASSWORD=…\n'
  export CONVIRZA_V2_SECRET=convirza-v2-secret CONVIRZA_V2_PASSWORD=mySecurePassword123
  show tokenctl token -p v2 --format header
  show tokenctl inspect -p v2 --json
  printf '$ CONVIRZA_V2_PASSWORD=wrong tokenctl logout -p v2 && CONVIRZA_V2_PASSWORD=wrong tokenctl token -p v2\n'
  tokenctl logout -p v2 > /dev/null
  CONVIRZA_V2_PASSWORD=wrong tokenctl token -p v2 2>&1 || printf '[exit %s]\n' "$?"
  show tokenctl login -p v2
}

convercus() {
  show tokenctl init -p loyalty --provider convercus --program ABC --environment staging \
    --auth-url "$(url convercus)" --client-secret-env CONVERCUS_SECRET
  printf '$ export CONVERCUS_SECRET=…\n'
  export CONVERCUS_SECRET=convercus-secret
  show tokenctl token -p loyalty --format exec-credential
  show tokenctl inspect -p loyalty
  show tokenctl token -p loyalty --force-refresh --dry-run
  show tokenctl revoke -p loyalty
}

legacy() {
  show tokenctl init -p legacy --provider convercus-legacy --org ACME --environment staging \
    --api-url "$(url convercus-legacy)" --username api-user --password-env CONVERCUS_PASSWORD
  printf '$ tokenctl token -p legacy --non-interactive    # CONVERCUS_PASSWORD not set\n'
  tokenctl token -p legacy --non-interactive 2>&1 || printf '[exit %s]\n' "$?"
  printf '$ export CONVERCUS_PASSWORD=…\n'
  export CONVERCUS_PASSWORD=api-password
  show tokenctl token -p legacy
  show tokenctl inspect -p legacy
}

standard() {
  show tokenctl init -p idp --provider standard --token-url "$(url standard)/token" \
    --revocation-url "$(url standard)/revoke" --client-id emulated-client \
    --client-secret-env IDP_SECRET --scope "read write" --key-env TOKENCTL_KEY
  printf '$ export IDP_SECRET=… TOKENCTL_KEY=$(head -c 32 /dev/urandom | base64)\n'
  export IDP_SECRET=emulated-secret TOKENCTL_KEY=$(head -c 32 /dev/urandom | base64)
  show tokenctl token -p idp --min-ttl 5m --format json
  show tokenctl token -p idp --scope read
  show tokenctl inspect -p idp --scope read
  show tokenctl logout -p idp --scope read
}

discovery() {
  show tokenctl init -p sso --issuer "$(url standard)" --client-id emulated-client \
    --client-secret-env SSO_SECRET --scope read
  show sed -n '/^\[profiles.sso\]/,$p' "$TOKENCTL_CONFIG"
  printf '$ export SSO_SECRET=…\n'
  export SSO_SECRET=emulated-secret
  show tokenctl token -p sso --format json
  show tokenctl revoke -p sso
  show tokenctl init -p sso2 --issuer "$(url standard)/" --client-id emulated-client \
    --client-secret-env SSO_SECRET
  show tokenctl init -p sso2 --issuer "$(url standard)" --token-url "$(url standard)/token" \
    --client-id emulated-client
}

# Runs `tokenctl ARGS…` in the background, its stderr and stdout to files, and waits (at
# most 10 s) until its stderr has a line matching PATTERN. Sets $login_pid.
start_login() {
  local pattern=$1; shift
  "$@" > "$work/login.out" 2> "$work/login.err" &
  login_pid=$!
  for _ in $(seq 100); do grep -q -- "$pattern" "$work/login.err" 2>/dev/null && break; sleep 0.1; done
}

# Waits for the background login, and prints what it printed, as `show` does.
finish_login() {
  local status=0
  wait "$login_pid" || status=$?
  cat "$work/login.err" "$work/login.out"
  if [[ $status != 0 ]]; then printf '[exit %s]\n' "$status"; fi
}

device() {
  show tokenctl init -p me --issuer "$(url standard)" --client-id emulated-public-client \
    --grant device
  show tokenctl token -p me
  show tokenctl login -p me --dry-run
  printf '$ tokenctl login -p me\n'
  start_login 'enter code' tokenctl login -p me
  local code
  code=$(sed -n 's/.*enter code \([A-Z-]*\).*/\1/p' "$work/login.err")
  # The person, on another device: the verification page's form, approved.
  curl -sS -o /dev/null --data "user_code=$code&decision=approve" "$(url standard)/device"
  finish_login
  show tokenctl token -p me
  show tokenctl token -p me --force-refresh
  show tokenctl inspect -p me
  printf '$ tokenctl login -p me    # denied this time, on the verification page\n'
  start_login 'enter code' tokenctl login -p me
  code=$(sed -n 's/.*enter code \([A-Z-]*\).*/\1/p' "$work/login.err")
  curl -sS -o /dev/null --data "user_code=$code&decision=deny" "$(url standard)/device"
  finish_login
  show tokenctl login -p me --browser
}

browser() {
  show tokenctl init -p web --issuer "$(url standard)" --client-id emulated-public-client \
    --grant authorization-code
  printf '$ tokenctl login -p web --no-browser\n'
  start_login '^  http' tokenctl login -p web --no-browser
  # The browser: the authorization URL (the emulator logs the person in at once and
  # redirects), then the redirect to tokenctl's listener.
  local url location
  url=$(sed -n 's/^  \(http.*\)$/\1/p' "$work/login.err")
  location=$(curl -sS -o /dev/null -w '%{redirect_url}' "$url")
  curl -sS -o /dev/null "$location"
  finish_login
  show tokenctl token -p web --format json
}

transcript "Convirza V3" v3
transcript "Convirza V2" v2
transcript "Convercus (Keycloak)" convercus
transcript "Convercus legacy login" legacy
transcript "A standard OAuth 2.0 server" standard
transcript "A standard server configured from discovery" discovery
transcript "A person's login with a code (the device grant)" device
transcript "A person's login in a browser" browser
