#!/usr/bin/env bash
# The served OpenAPI document, as a client meets it: validated, turned into a client by a real
# generator, and a short scenario run through that client against a live server.
#
# For each engine (SQLite always; PostgreSQL when MEISHI_OPENAPI_POSTGRES_URL names an empty
# database): starts `meishi demo` on a fresh database and a port the OS picks, waits for
# /healthz, fetches /api/openapi.json and
#   openapi-spec-validator      the document is valid OpenAPI 3.1
#   openapi-python-client       generates a Python client from it (warnings are shown; an
#     generate                  error, or a schema it had to leave out, fails the run)
#   scenario.py                 through the generated client, with the demo's admin token:
#                               who am I, create a card and tag it, list with a filter, a
#                               transfer dry run, an import's error body (see its docstring)
#
# Environment:
#   MEISHI_BIN                   server binary (default: `cargo build --locked`, its debug binary)
#   MEISHI_OPENAPI_POSTGRES_URL  an empty PostgreSQL database for the second run (optional)
#   VENV                         the virtualenv with tests/openapi/requirements.txt (default .venv)
# The last line is the summary `.ci/run` prints: `openapi: …`.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
here="$root/tests/openapi"
venv="${VENV:-$root/.venv}"
for tool in openapi-spec-validator openapi-python-client; do
    if [ ! -x "$venv/bin/$tool" ]; then
        echo "no $venv/bin/$tool: python3 -m venv .venv && .venv/bin/pip install -r tests/openapi/requirements.txt" >&2
        exit 1
    fi
done
. "$root/tests/demo_server.sh"

tmp="$(mktemp -d -t meishi-openapi.XXXXXX)"
trap 'stop; rm -rf "$tmp"' EXIT

declare -a results=()
failed=0

# run ENGINE DATABASE_URL
run() {
    local engine="$1" database="$2"
    start_demo "$engine" "$database" 50
    echo "--- $engine: $url"
    local doc="$tmp/$engine-openapi.json" out="$tmp/$engine/meishi_client" ok=1
    mkdir -p "$tmp/$engine"
    curl -fsS -o "$doc" "$url/api/openapi.json"
    "$venv/bin/openapi-spec-validator" "$doc" || ok=0
    # The generator prints what it could not use; "Unable to …" / "Failure to process" means a
    # schema was dropped from the client, which fails the run. It cannot build requests for
    # the import's raw text/csv and text/vcard bodies (the multipart form is there): those
    # two warnings are expected.
    (cd "$tmp" && PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate --path "$doc" \
        --meta none --output-path "$out" --overwrite) >"$tmp/$engine-generate.log" 2>&1 || ok=0
    if grep -qE '^(Unable to|Failure to process|Error)' "$tmp/$engine-generate.log" || [ ! -d "$out" ]; then
        ok=0
    fi
    grep -E 'WARNING|Unable|Failure|Error' -A1 "$tmp/$engine-generate.log" || true
    if [ "$ok" = 1 ]; then
        PYTHONPATH="$tmp/$engine" "$venv/bin/python" "$here/scenario.py" "$url" "$token" || ok=0
    fi
    stop
    if [ "$ok" = 1 ]; then
        results+=("$engine passed")
    else
        results+=("$engine FAILED")
        failed=1
        tail -n 20 "$tmp/$engine-server.err" >&2
    fi
}

run sqlite "sqlite://$tmp/demo.db"
if [ -n "${MEISHI_OPENAPI_POSTGRES_URL:-}" ]; then
    run postgres "$MEISHI_OPENAPI_POSTGRES_URL"
else
    echo "MEISHI_OPENAPI_POSTGRES_URL unset: the PostgreSQL run is skipped"
    results+=("postgres skipped")
fi
summary="$(printf '%s, ' "${results[@]}")"
echo "openapi: ${summary%, }"
exit "$failed"
