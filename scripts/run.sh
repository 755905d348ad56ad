#!/usr/bin/env bash
# Runs kovgis with the demo data: installs what is missing, starts a private PostgreSQL + PostGIS
# in .kovgis/pg (unless DATABASE_URL is set), migrates, loads the demo data and serves gRPC.
# Re-running it is harmless: the cluster and loaded data are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages
if [ -z "${DATABASE_URL:-}" ]; then
  PGDIR=$PWD/.kovgis/pg
  PGPORT=${KOVGIS_PG_PORT:-54329}
  if [ ! -f "$PGDIR/postmaster.pid" ]; then PGPORT=$(free_port "$PGPORT"); fi
  [ -f "$PGDIR/postgresql.conf" ] && PGPORT=$(sed -n "s/^port = //p" "$PGDIR/postgresql.conf" | tail -1)
  start_cluster "$PGDIR" "$PGPORT"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/kovgis"
  log "database: $DATABASE_URL (stop it with: runuser -u postgres -- $PG_BIN/pg_ctl -D $PGDIR stop)"
fi

log "building kovgis (release)"
cargo build --release --locked -p kovgis
BIN="${CARGO_TARGET_DIR:-target}/release/kovgis"
"$BIN" migrate
"$BIN" load-demo --fixtures fixtures
LISTEN=${KOVGIS_LISTEN:-127.0.0.1:50051}
cat >&2 <<MSG

  kovgis serves gRPC on $LISTEN (reflection, health and gRPC-Web enabled). Try:
    pip install grpcio grpcio-reflection protobuf && python3 scripts/example_client.py $LISTEN
  or, if you have grpcurl:
    grpcurl -plaintext $LISTEN list
    grpcurl -plaintext -d '{"contains_point":{"geojson":"{\"type\":\"Point\",\"coordinates\":[24.8337,59.4665]}"}}' \\
      $LISTEN kovgis.v1.SpatialService/FindParcels

MSG
exec "$BIN" serve --listen "$LISTEN"
