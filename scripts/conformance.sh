#!/usr/bin/env bash
# OpenAPI conformance: schemathesis sends generated requests (valid and
# invalid) to every operation of a freshly started daemon, signed in as a
# Manager, and fails on any 5xx answer or any answer that the published
# document (GET /api/v1/openapi.json) does not describe: its status, its
# content type and its body schema.
#
# Usage: scripts/conformance.sh [MAX_EXAMPLES]   (default 50 per operation)
# Environment: CONFORMANCE_SEED (default 1, so a run repeats),
# CONFORMANCE_PHASES (default examples,coverage,fuzzing,stateful), KEEP=1 keeps
# the data directory and schemathesis' reports for a look afterwards.
#
# Left out, because they can end the run's own session, after which every
# request is a 401 that tests nothing:
#   - DELETE /api/v1/session (logout): ends the Bearer session in use.
#   - PUT /api/v1/me/password: a changed password ends the caller's other
#     sessions, and a generated body never knows the current password, so
#     only the 401 path would be tested anyway.
#   - PUT /api/v1/me/secret-questions: it needs the current password, which
#     a generated body never knows, and each wrong one counts as a failed
#     login from this familiar address, whose lock ends the session (R8.2).
#   - POST /api/v1/users/{id}/reset-password: ends every session of the
#     user, and the Manager's own id is in the answers (GET /me, the user
#     list) that schemathesis feeds into later requests.
#   - POST /api/v1/users/{id}/deactivate: the same, for a deactivated
#     Manager (refused today only while it is the last Manager).
# Signing in (POST /api/v1/session) and reset answers run on their own,
# after everything else: generated bodies learn the Manager's login from
# the answers and try wrong passwords for it, which locks the account
# (R8.2) and with it the run's session, as it should.
# Everything else runs, including sign-out-others (it keeps the session it
# is sent with), deletes and the settings writes: the settings they change
# (visibility, lockout threshold, ...) do not end a Bearer session.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-50}"
seed="${CONFORMANCE_SEED:-1}"
phases="${CONFORMANCE_PHASES:-examples,coverage,fuzzing,stateful}"

# schemathesis in a venv of the project's own (target/test-tools/venv), never
# in the system's or the user's Python.
venv="$PWD/target/test-tools/venv"
if ! "$venv/bin/python" -c 'import schemathesis' 2>/dev/null; then
  echo "installing schemathesis into target/test-tools/venv (for the OpenAPI conformance run)"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet schemathesis
fi
python3() { "$venv/bin/python" "$@"; }
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

token=$(python3 - "$url" "$cert" "$password" <<'PY'
import json, ssl, sys, urllib.request
url, cert, password = sys.argv[1:]
req = urllib.request.Request(
    url + "/api/v1/session",
    data=json.dumps({"login": "admin", "password": password}).encode(),
    headers={"content-type": "application/json"},
)
ctx = ssl.create_default_context(cafile=cert)
print(json.load(urllib.request.urlopen(req, context=ctx))["token"])
PY
)

status=0
# From the work folder: schemathesis leaves its own files where it runs.
run() {
  (cd "$work" && python3 -m schemathesis.cli --no-color run "$url/api/v1/openapi.json" \
    --tls-verify "$cert" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases "$phases" \
    --max-examples "$examples" \
    --seed "$seed" \
    --workers 1 \
    --request-timeout 30 \
    --generation-database none \
    "$@") || status=$?
}
run -H "Authorization: Bearer $token" \
  --exclude-operation-id logout \
  --exclude-operation-id change_password \
  --exclude-operation-id set_secret_questions \
  --exclude-operation-id admin_reset \
  --exclude-operation-id deactivate_user \
  --exclude-operation-id login \
  --exclude-operation-id reset_answers \
  --report junit --report-dir "$work/report"
run --include-operation-id login \
  --include-operation-id reset_answers \
  --report junit --report-dir "$work/report-sign-in"

if grep -q 'panicked' "$work/stderr"; then
  echo "the daemon panicked:"; grep -A5 'panicked' "$work/stderr"; status=1
fi
exit $status
