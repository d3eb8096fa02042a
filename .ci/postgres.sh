# Sourced by .ci/run: a throwaway PostgreSQL server for the test run (its own data folder, a Unix socket in
# it and a free port; nothing listens on the network), stopped and deleted when the run ends. Installs
# Debian's postgresql package when no server binaries are present. Exports ECGDESK_TEST_POSTGRES_URL, which
# makes the store, workflow and service tests run on PostgreSQL as well as on SQLite.

_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

start_postgres() {
    local bin
    bin="$(_pg_bin)"
    if [ -z "$bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "ci: installing Debian's postgresql package"
        { DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql \
            || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }; } >/dev/null
        bin="$(_pg_bin)"
    fi
    if [ -z "$bin" ]; then
        echo "ci: WARNING: no PostgreSQL server binaries; the PostgreSQL test cases will skip"
        return 0
    fi
    PG_DIR="$(mktemp -d /tmp/ecgdesk-pg.XXXXXX)"
    PG_AS=()
    if [ "$(id -u)" = 0 ]; then  # initdb and postgres refuse to run as root
        chown postgres: "$PG_DIR"
        PG_AS=(runuser -u postgres --)
    fi
    PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    PG_BINDIR="$bin"
    "${PG_AS[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync -E UTF8 >"$PG_DIR/initdb.log"
    "${PG_AS[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -s \
        -o "-c listen_addresses='' -k $PG_DIR -p $PG_PORT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start
    trap stop_postgres EXIT
    "${PG_AS[@]}" "$bin/createdb" -h "$PG_DIR" -p "$PG_PORT" -U postgres ecgdesk_test
    export ECGDESK_TEST_POSTGRES_URL="postgresql+psycopg://postgres@/ecgdesk_test?host=$PG_DIR&port=$PG_PORT"
    echo "ci: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on socket $PG_DIR port $PG_PORT"
}

stop_postgres() {
    if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
        "${PG_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate -s stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}
