#!/usr/bin/env bash
# SCIM 2.0 conformance against a live server, once on SQLite and once on PostgreSQL.
#
# For each engine: starts `meishi demo` on a fresh database and a port the OS picks, waits for
# /healthz, creates a SCIM token with the command line (`meishi scim-token create`), then runs
#   scim2 --url …/scim/v2 test                       scim2-cli with scim2-tester: every
#                                                    check must pass
#   scim-sanity probe …/scim/v2 --i-accept-side-effects
#                                                    every phase must pass (Group, Agent
#                                                    and AgenticApplication are skipped:
#                                                    meishi offers Users only and says so)
# Both tools create, change, deactivate and delete users: on meishi that suspends them, opens
# departures and moves what they hold to the archive account, as it would for an IdP.
#
# Environment:
#   MEISHI_BIN                 server binary (default: `cargo build --locked`, its debug binary)
#   MEISHI_SCIM_POSTGRES_URL   an empty PostgreSQL database for the second run (.ci/run makes
#                              one); without it the PostgreSQL run is skipped, loudly
#   VENV                       the virtualenv with tests/scim/requirements.txt (default .venv)
# The last line is the summary `.ci/run` prints: `scim: …`.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
venv="${VENV:-$root/.venv}"
for tool in scim2 scim-sanity; do
    if [ ! -x "$venv/bin/$tool" ]; then
        echo "no $venv/bin/$tool: python3 -m venv .venv && .venv/bin/pip install -r tests/scim/requirements.txt" >&2
        exit 1
    fi
done
. "$root/tests/demo_server.sh"
tester_version="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("scim2-tester"))')"
sanity_version="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("scim-sanity"))')"

tmp="$(mktemp -d -t meishi-scim.XXXXXX)"
trap 'stop; rm -rf "$tmp"' EXIT

failed=0
declare -a results=()

# run ENGINE DATABASE_URL
run() {
    local engine="$1" database="$2"
    start_demo "$engine" "$database" 50
    # SCIM has tokens of its own: the demo admin's API token does not open /scim/v2.
    token="$("$MEISHI_BIN" scim-token create --database "$database" --org demo --name conformance)"
    url="$url/scim/v2"

    echo "--- scim2-tester $tester_version on $engine ($url)"
    # The token is a throwaway for this temporary server, so -h on the command line is fine.
    "$venv/bin/scim2" --url "$url" -h "Authorization: Bearer $token" test >"$tmp/$engine-tester.log" 2>&1 || true
    # scim2-tester's statuses: SUCCESS, COMPLIANT, ACCEPTABLE pass; DEVIATION (a SHOULD not
    # followed), ERROR and CRITICAL fail; SKIPPED is counted and shown.
    local ok bad skipped
    ok="$(grep -Ec '^(SUCCESS|COMPLIANT|ACCEPTABLE) ' "$tmp/$engine-tester.log" || true)"
    bad="$(grep -Ec '^(DEVIATION|ERROR|CRITICAL) ' "$tmp/$engine-tester.log" || true)"
    skipped="$(grep -Ec '^SKIPPED ' "$tmp/$engine-tester.log" || true)"
    grep -E -A2 '^(DEVIATION|ERROR|CRITICAL|SKIPPED) ' "$tmp/$engine-tester.log" || true
    echo "scim2-tester on $engine: $ok passed, $bad failed, $skipped skipped"
    if [ "$bad" != 0 ] || [ "$ok" = 0 ]; then failed=1; tail -n 40 "$tmp/$engine-tester.log"; fi

    echo "--- scim-sanity $sanity_version on $engine"
    "$venv/bin/scim-sanity" probe "$url" --token "$token" --i-accept-side-effects >"$tmp/$engine-sanity.log" 2>&1 || true
    cat "$tmp/$engine-sanity.log"
    local counts
    counts="$(grep -E '^ *[0-9]+ passed' "$tmp/$engine-sanity.log" | tail -n1 | sed 's/^ *//')"
    if ! grep -q 'Result: All tests passed' "$tmp/$engine-sanity.log" || grep -q '\[FAIL\]' "$tmp/$engine-sanity.log"; then
        failed=1
        counts="${counts:-no result}, FAILED"
    fi
    results+=("$engine: scim2-tester $ok/$((ok + bad + skipped)) passed, scim-sanity $counts")
    stop
}

run sqlite "sqlite://$tmp/scim.db"
if [ -n "${MEISHI_SCIM_POSTGRES_URL:-}" ]; then
    run postgres "$MEISHI_SCIM_POSTGRES_URL"
else
    echo "MEISHI_SCIM_POSTGRES_URL is not set: the PostgreSQL run is SKIPPED" >&2
    results+=("postgres: skipped (no MEISHI_SCIM_POSTGRES_URL)")
fi

summary="$(IFS=';'; echo "${results[*]}" | sed 's/;/; /g')"
if [ "$failed" != 0 ]; then
    echo "scim: FAILED (scim2-tester $tester_version, scim-sanity $sanity_version) $summary"
    exit 1
fi
echo "scim: scim2-tester $tester_version, scim-sanity $sanity_version; $summary"
