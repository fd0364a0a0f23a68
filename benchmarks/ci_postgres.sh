#!/usr/bin/env bash
# A throwaway PostgreSQL server for the store tests.
#
#   eval "$(benchmarks/ci_postgres.sh start)"   # installs PostgreSQL if missing (Debian), starts it on
#                                               # 127.0.0.1 at a free port in a temp data dir, and prints
#                                               # export ADVISOR_TEST_PG_URL=... ADVISOR_TEST_PG_DATA=...
#   benchmarks/ci_postgres.sh stop              # stops the server of $ADVISOR_TEST_PG_DATA, removes its dir
#
# Only the export lines go to stdout; progress goes to stderr. Runs the server as the `postgres` user when
# started as root (initdb refuses root), as the current user otherwise. Trust authentication on 127.0.0.1
# only: never use this for anything but tests.
set -euo pipefail

log() { echo "ci_postgres: $*" >&2; }

find_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir; return 0
    fi
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else
        log "need root (or sudo) to run: $*"; return 1; fi
}

install_postgres() {
    log "PostgreSQL not found: installing it with apt-get"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

free_port() {
    python3 - <<'EOF' 2>/dev/null || echo $(( 20000 + RANDOM % 20000 ))
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
EOF
}

start() {
    local bindir
    bindir="$(find_bindir)" || { install_postgres; bindir="$(find_bindir)"; } || {
        log "no initdb after installing postgresql"; exit 1; }
    local data port runas=()
    data="$(mktemp -d "${TMPDIR:-/tmp}/advisor-pg.XXXXXX")"
    port="$(free_port)"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir "$data" --shell /bin/sh postgres
        chown postgres "$data"
        chmod 700 "$data"
        runas=(su postgres -s /bin/sh -c)
    else
        runas=(sh -c)
    fi
    log "initdb in $data (server $bindir)"
    "${runas[@]}" "'$bindir/initdb' -D '$data/db' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null \
        || '$bindir/initdb' -D '$data/db' -U postgres --auth=trust -E UTF8 --no-locale >/dev/null" >&2
    log "starting on 127.0.0.1:$port"
    "${runas[@]}" "'$bindir/pg_ctl' -D '$data/db' -l '$data/server.log' -w -t 60 \
        -o \"-c listen_addresses=127.0.0.1 -p $port -k '$data' -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" \
        start >/dev/null" >&2 || { cat "$data/server.log" >&2; exit 1; }
    "${runas[@]}" "'$bindir/createdb' -h 127.0.0.1 -p $port -U postgres advisor_test" >&2
    echo "$bindir" > "$data/bindir"
    echo "export ADVISOR_TEST_PG_URL='postgresql+psycopg://postgres@127.0.0.1:$port/advisor_test'"
    echo "export ADVISOR_TEST_PG_DATA='$data'"
    log "ready: postgresql+psycopg://postgres@127.0.0.1:$port/advisor_test"
}

stop() {
    local data="${ADVISOR_TEST_PG_DATA:-}"
    [ -n "$data" ] && [ -d "$data/db" ] || { log "nothing to stop (ADVISOR_TEST_PG_DATA is not set)"; return 0; }
    local bindir runas=(sh -c)
    bindir="$(cat "$data/bindir")"
    [ "$(id -u)" = 0 ] && runas=(su postgres -s /bin/sh -c)
    "${runas[@]}" "'$bindir/pg_ctl' -D '$data/db' -m immediate -w stop >/dev/null" >&2 || true
    rm -rf "$data"
    log "stopped and removed $data"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
