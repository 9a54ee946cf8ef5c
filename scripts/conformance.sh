#!/usr/bin/env bash
# OpenAPI conformance: schemathesis sends generated requests (valid and
# invalid) to every operation of a freshly started daemon, signed in as a
# Manager, and fails on any 5xx answer or any answer that the published
# document (GET /api/v1/openapi.json) does not describe: its status, its
# content type and its body schema.
#
# Usage: scripts/conformance.sh [MAX_EXAMPLES]   (default 25 per operation)
# Environment: CONFORMANCE_SEED (default 1, so a run repeats), KEEP=1 keeps
# the data directory and schemathesis' reports for a look afterwards.
#
# Left out, because they would cut the run's own authentication and leave
# every later request a 401 that tests nothing:
#   - DELETE /api/v1/session (logout): ends the Bearer session in use.
#   - POST /api/v1/me/sessions/sign-out-others: harmless for the token in
#     use, but it is left out with logout so that the run does not depend on
#     which session schemathesis happens to send.
#   - PUT /api/v1/me/password: a generated body never knows the current
#     password, so only the 401 path would be tested; with a lucky guess it
#     would end the run's other sessions.
#   - POST /api/v1/users/{id}/reset-password: ends every session of the
#     user; the run's Manager is the only user whose id a response reveals.
#   - POST /api/v1/users/{id}/deactivate: same reason (it would end the
#     Manager's sessions, though the last-Manager rule refuses it today).
# Everything else, including the settings writes and deletes, runs; the
# settings they change (visibility, lockout threshold, ...) do not affect a
# Manager's Bearer session.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-25}"
seed="${CONFORMANCE_SEED:-1}"

if ! python3 -c 'import schemathesis' 2>/dev/null; then
  python3 -m pip install --quiet schemathesis 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages schemathesis
fi
python3 -c 'import schemathesis; print("schemathesis", schemathesis.__version__)'

cargo build --release --quiet
bin="$PWD/target/release/bailiwick"

work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Cheap hashing: the run logs in many times (Basic, generated logins).
export BAILIWICK_AUTH_ARGON2_MEMORY_KIB=64 BAILIWICK_AUTH_ARGON2_ITERATIONS=1
export RUST_LOG="${RUST_LOG:-warn}"
unset STATE_DIRECTORY NOTIFY_SOCKET

password='Conformance-pass-1'
printf '%s\n' "$password" >"$work/pw"
chmod 600 "$work/pw"
"$bin" init --data-dir "$work/data" --subscription Conformance \
  --manager-login admin --manager-email admin@example.invalid \
  --password-file "$work/pw" --service-type enterprise --modules VM,PC >/dev/null

mkfifo "$work/out"
"$bin" serve --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/out" 2>"$work/stderr" &
pid=$!
base=""
exec 3<"$work/out"
while IFS= read -r -t 60 line <&3; do
  case "$line" in
    "listening on https://"*) base="${line#listening on }"; break ;;
  esac
done
# Keep draining stdout so the daemon never blocks on a full pipe.
cat <&3 >/dev/null &
if [ -z "$base" ]; then
  echo "the daemon did not start:"; cat "$work/stderr"; exit 1
fi
port="${base##*:}"
url="https://localhost:$port"
cert="$work/data/tls/cert.pem"
echo "daemon at $url"

token=$(curl -sf --cacert "$cert" -X POST "$url/api/v1/session" \
  -H 'content-type: application/json' \
  -d "{\"login\":\"admin\",\"password\":\"$password\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

status=0
# From the work folder: schemathesis leaves its own files where it runs.
(cd "$work" && st --no-color run "$url/api/v1/openapi.json" \
  --tls-verify "$cert" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-operation-id logout \
  --exclude-operation-id sign_out_others \
  --exclude-operation-id change_password \
  --exclude-operation-id admin_reset \
  --exclude-operation-id deactivate_user \
  --phases examples,coverage,fuzzing \
  --max-examples "$examples" \
  --seed "$seed" \
  --workers 1 \
  --request-timeout 30 \
  --generation-database none \
  --report junit --report-dir "$work/report") || status=$?

if grep -q 'panicked' "$work/stderr"; then
  echo "the daemon panicked:"; grep -A5 'panicked' "$work/stderr"; status=1
fi
exit $status
