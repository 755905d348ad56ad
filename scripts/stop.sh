#!/usr/bin/env bash
# Stops the run command's private PostgreSQL in .kovgis/pg (the kovgis server itself stops with
# Ctrl-C or SIGTERM). Works for root (the cluster then runs as the postgres user) and for the user
# who started it. Its data stays; scripts/run.sh starts it again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PGDIR=$PWD/.kovgis/pg
[ -f "$PGDIR/PG_VERSION" ] || die "no cluster in $PGDIR"
if pg_run "$PG_BIN/pg_ctl" -D "$PGDIR" status >/dev/null 2>&1; then
  pg_run "$PG_BIN/pg_ctl" -D "$PGDIR" -m fast -w stop >/dev/null
  log "stopped PostgreSQL in $PGDIR"
else
  log "PostgreSQL in $PGDIR is not running"
fi
