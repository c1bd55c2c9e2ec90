# Sourced by tests/schemathesis/run.sh, tests/openapi/run.sh and tests/scim/run.sh (from the
# repository's root): the meishi binary, and a `meishi demo` server started on a port the OS
# picks and stopped again. Needs `tmp` (a scratch directory) before `start_demo`.
#
#   MEISHI_BIN   the server binary (default: `cargo build --locked`, then its debug binary)

if [ -z "${MEISHI_BIN:-}" ]; then
    cargo build --locked --quiet
    MEISHI_BIN="${CARGO_TARGET_DIR:-target}/debug/meishi"
fi

server_pid=""
url=""
token=""

# Stops the server started last, if it still runs.
stop() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}

# start_demo NAME DATABASE_URL CARDS: the demo organisation with CARDS cards on DATABASE_URL,
# served on 127.0.0.1 at a port the OS picks; returns once /healthz answers, with `url`
# (http://127.0.0.1:PORT), `token` (the demo admin's API token, which the demo prints) and
# `server_pid` set. Its output is in $tmp/NAME-server.out and .err; exits the script if the
# server stops or does not answer within 60 s.
start_demo() {
    local name="$1" database="$2" cards="$3"
    url="" token=""
    "$MEISHI_BIN" demo --database "$database" --listen 127.0.0.1:0 --cards "$cards" \
        >"$tmp/$name-server.out" 2>"$tmp/$name-server.err" &
    server_pid=$!
    for _ in $(seq 1 300); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "the demo server ($name) exited during start-up:" >&2
            cat "$tmp/$name-server.out" "$tmp/$name-server.err" >&2
            exit 1
        fi
        token="$(sed -n 's/.*admin API token: *\([^ ]*\).*/\1/p' "$tmp/$name-server.out" | head -n1)"
        url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$tmp/$name-server.out" | head -n1 || true)"
        if [ -n "$url" ] && [ -n "$token" ] && curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then
            return 0
        fi
        url="" token=""
        sleep 0.2
    done
    echo "the demo server ($name) did not answer /healthz within 60 s:" >&2
    cat "$tmp/$name-server.out" "$tmp/$name-server.err" >&2
    exit 1
}
