#!/usr/bin/env bash
# Starts a PostgreSQL primary and a streaming replica (pg_basebackup -R) on
# loopback in a temporary directory, writes a template_routes config for
# them, and runs pg_split against it. Everything is stopped and removed at
# exit.
#
#   examples/postgres/run.sh PG_SPLIT PLUGIN_DIR
#
# Exit 77 (skipped) when PostgreSQL's server programs are not installed.
set -euo pipefail

exe=$(realpath "$1")
plugins=$(realpath "$2")
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "run.sh: PostgreSQL server programs not found (apt install postgresql): skipped"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sy-pg.XXXXXX")
chmod 755 "$tmp"
# The server refuses to run as root: as root, run it as the postgres user.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "run.sh: running as root and there is no postgres user" >&2; exit 1; }
    chown postgres "$tmp"
    as_pg=(runuser -u postgres --)
fi
pg() { "${as_pg[@]+"${as_pg[@]}"}" "$@"; }

cleanup() {
    for d in replica primary; do
        [ -f "$tmp/$d/postmaster.pid" ] && pg "$bindir/pg_ctl" -D "$tmp/$d" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# Free ports, picked by the kernel.
read -r p1 p2 < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')

pg "$bindir/initdb" -D "$tmp/primary" -U postgres --auth=trust -E UTF8 >"$tmp/initdb.log" 2>&1 ||
    { cat "$tmp/initdb.log" >&2; exit 1; }
cat >>"$tmp/primary/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$tmp'
wal_level = replica
max_wal_senders = 4
CONF
echo "host replication postgres 127.0.0.1/32 trust" >>"$tmp/primary/pg_hba.conf"
pg "$bindir/pg_ctl" -D "$tmp/primary" -o "-p $p1" -l "$tmp/primary.log" -w start >/dev/null ||
    { cat "$tmp/primary.log" >&2; exit 1; }
pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres -D "$tmp/replica" -R -X stream >"$tmp/basebackup.log" 2>&1 ||
    { cat "$tmp/basebackup.log" >&2; exit 1; }
pg "$bindir/pg_ctl" -D "$tmp/replica" -o "-p $p2" -l "$tmp/replica.log" -w start >/dev/null ||
    { cat "$tmp/replica.log" >&2; exit 1; }
echo "primary on 127.0.0.1:$p1, streaming replica on 127.0.0.1:$p2 ($("$bindir/postgres" --version))"

cat >"$tmp/split.json" <<JSON
{
  "plugin_path": ["$plugins"],
  "selector": {"plugin": "template_routes", "config": {
    "template": "{{ if (\$.request.query?.operation_type == \"query\") && (\$.request.headers?['no-stale-read'] == \"true\") }} {{\$.primary}} {{ else }} {{\$.default}} {{ end }}",
    "primary": {"host": "127.0.0.1", "port": $p1, "url": "host=127.0.0.1 port=$p1 user=postgres dbname=postgres connect_timeout=5"},
    "read_replicas": [{"name": "replica", "host": "127.0.0.1", "port": $p2,
                       "url": "host=127.0.0.1 port=$p2 user=postgres dbname=postgres connect_timeout=5"}]
  }}
}
JSON
"$exe" "$tmp/split.json"
