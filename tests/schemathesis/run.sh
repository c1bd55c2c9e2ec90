#!/usr/bin/env bash
# Property-based API tests: schemathesis against a real `meishi demo` server.
#
# Starts the demo organisation (300 cards) on a fresh SQLite database in a temp directory, on
# a port the OS picks, waits for /healthz, and runs schemathesis on the OpenAPI document the
# server itself serves (/api/openapi.json), authenticated with the demo's admin API token.
# Every generated request (coverage, fuzzing and stateful phases) is checked for:
#   not_a_server_error           no 5xx, ever: summarize.py fails the run on any 5xx even if a
#                                baseline entry covered it
#   status_code_conformance      every status is one the document lists for the operation
#   response_schema_conformance  every JSON body matches the documented schema
#   content_type_conformance     every Content-Type is one the document lists
#
# Known, reported mismatches between the document and the server are listed in baseline.json
# beside this script (schemathesis' own baseline format: operation + check + status code or
# schema path; each entry has a `note`). They do not fail the run; anything new does. When a
# finding is fixed, delete its entries. `run.sh --prune-baseline` drops every entry the run
# did not reproduce, which includes the 403 entries recorded once with a member token (this
# run is the admin), so review its diff. After a change that brings a mismatch you accept,
# `run.sh --update-baseline` records it (review that diff too: it records whatever new
# failure the run found, real bugs included).
#
# Exclusions: no endpoint is excluded for the test's own sake. DELETE /api/v1/session only
# ends a cookie session (the bearer token used here survives it), and the server refuses to
# suspend, delete or demote the last active administrator, so nothing generated can lock the
# run out. The only skip is KNOWN_BROKEN below, and only while it is still broken.
#
# Environment:
#   MEISHI_BIN          server binary (default: `cargo build --locked`, then its debug binary)
#   SCHEMATHESIS        the schemathesis CLI (default: .venv/bin/schemathesis)
#   ST_MAX_EXAMPLES     examples per operation and phase (default 100: about a minute)
#   ST_SEED             generation seed (default fixed; the run still varies a little, with
#                       two workers and server-made ids; set another seed to explore)
#   ST_REPORT_DIR       keep the JUnit and NDJSON reports and schemathesis' crash files there
#                       (`st replay ID` from that directory); default: a temp dir, removed
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

here="$root/tests/schemathesis"
baseline="$here/baseline.json"
schemathesis="${SCHEMATHESIS:-$root/.venv/bin/schemathesis}"
max_examples="${ST_MAX_EXAMPLES:-100}"
seed="${ST_SEED:-20261130}"

# Operations the served document describes so that schemathesis cannot build a request at
# all (it reports a schema error, which fails the run and cannot be put in a baseline). Each
# is skipped, loudly, only while its document is still broken; once fixed it is tested again
# with no change here. Remove an entry when its fix has landed.
#   GET /api/v1/exports: the `version` and `header` query parameters refer to
#     #/components/schemas/VcardVersion and #/components/schemas/HeaderLang, which the
#     document does not define (they are missing from the components of the OpenApi derive).
#     Once fixed, expect its other known mismatches to show up: 401 is undocumented and the
#     200 response lists text/csv only, while the default export is text/vcard.
KNOWN_BROKEN=("GET /api/v1/exports")

baseline_args=(--baseline "$baseline")
case "${1:-}" in
    "") ;;
    --update-baseline) baseline_args+=(--baseline-update) ;;
    --prune-baseline) baseline_args+=(--baseline-prune) ;;
    *) echo "usage: $0 [--update-baseline | --prune-baseline]" >&2; exit 2 ;;
esac
# schemathesis creates a missing baseline from the run, which would accept everything found.
if [ ! -f "$baseline" ]; then
    echo "missing $baseline" >&2
    exit 1
fi
if [ ! -x "$schemathesis" ]; then
    echo "no $schemathesis: python3 -m venv .venv && .venv/bin/pip install -r tests/schemathesis/requirements.txt" >&2
    exit 1
fi
if [ -z "${MEISHI_BIN:-}" ]; then
    cargo build --locked --quiet
    MEISHI_BIN="${CARGO_TARGET_DIR:-target}/debug/meishi"
fi

tmp="$(mktemp -d -t meishi-schemathesis.XXXXXX)"
report_dir="${ST_REPORT_DIR:-$tmp/report}"
mkdir -p "$report_dir"
report_dir="$(cd "$report_dir" && pwd)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Port 0: the OS picks a free one; the demo prints the URL it got and the admin token.
"$MEISHI_BIN" demo --database "sqlite://$tmp/demo.db" --listen 127.0.0.1:0 --cards 300 \
    >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!

url="" token=""
for _ in $(seq 1 300); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the demo server exited during start-up:" >&2
        cat "$tmp/server.out" "$tmp/server.err" >&2
        exit 1
    fi
    token="$(sed -n 's/.*admin API token: *\([^ ]*\).*/\1/p' "$tmp/server.out" | head -n1)"
    url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$tmp/server.out" | head -n1 || true)"
    if [ -n "$url" ] && [ -n "$token" ] && curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then
        break
    fi
    url="" token=""
    sleep 0.2
done
if [ -z "$url" ]; then
    echo "the demo server did not answer /healthz within 60 s:" >&2
    cat "$tmp/server.out" "$tmp/server.err" >&2
    exit 1
fi
echo "server: $url (pid $server_pid, database $tmp/demo.db)"

curl -fsS -o "$tmp/openapi.json" "$url/api/openapi.json"
exclude_args=()
while IFS= read -r label; do
    [ -n "$label" ] || continue
    echo "SKIPPED (document still broken, see KNOWN_BROKEN in $0): $label"
    exclude_args+=(--exclude-name "$label")
done < <(python3 - "$tmp/openapi.json" "${KNOWN_BROKEN[@]}" <<'EOF'
import json, sys

document = json.load(open(sys.argv[1], encoding="utf-8"))
schemas = document.get("components", {}).get("schemas", {})

def unresolved(node):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/") \
                and ref.rsplit("/", 1)[1] not in schemas:
            yield ref
        for value in node.values():
            yield from unresolved(value)
    elif isinstance(node, list):
        for value in node:
            yield from unresolved(value)

for label in sys.argv[2:]:
    method, path = label.split(" ", 1)
    operation = document.get("paths", {}).get(path, {}).get(method.lower())
    if operation is not None and any(unresolved(operation)):
        print(label)
EOF
)

started=$(date +%s)
status=0
# Run from the report directory: schemathesis keeps its crash files (for `st replay`) in
# ./.schemathesis, which must not land in the work tree. `timeout` bounds the whole run
# whatever happens; the request timeout turns a hung request into a reported error.
(
    cd "$report_dir"
    timeout 600 "$schemathesis" --no-color run "$url/api/openapi.json" \
        --header "Authorization: Bearer $token" \
        --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
        --max-examples "$max_examples" \
        --seed "$seed" \
        --generation-database none \
        --request-timeout 10 \
        --workers 2 \
        ${exclude_args[@]+"${exclude_args[@]}"} \
        "${baseline_args[@]}" \
        --report junit,ndjson --report-dir "$report_dir"
) || status=$?
elapsed=$(( $(date +%s) - started ))

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "FAIL: the server died during the run:" >&2
    tail -n 50 "$tmp/server.err" >&2
    status=1
fi
# The server logs every 500 (and any panic) at ERROR; show what it said, without colours.
sed 's/\x1b\[[0-9;]*m//g' "$tmp/server.err" >"$tmp/server.log"
if grep -qE '^[^ ]+ +(ERROR|WARN) |panicked' "$tmp/server.log"; then
    echo "server log, warnings and errors:"
    grep -E '^[^ ]+ +(ERROR|WARN) |panicked' "$tmp/server.log" | tail -n 50
fi
echo "run: ${elapsed}s, seed $seed, at most $max_examples examples per operation and phase, exit $status"
# Lists every 5xx (failing the run even if a baseline entry covered it) and closes with
# `schemathesis: N passed, N failed` (API operations, baseline applied).
python3 "$here/summarize.py" "$report_dir" || status=1
exit "$status"
