#!/usr/bin/env bash
# Procedures at national scale (issue 13): the synthetic national data (fixtures/national: the
# cadastre, per-municipality zoning, national restrictions) imported with `kovgis import`, then
# PROCEDURES synthetic procedures over the 79 municipalities generated in SQL with their events
# and coordination requests, and `kovgis serve` (tokens verified, connected as kovgis_service:
# row-level security applied, as deployed) on that database. Prints, each beside its goal:
#   a) how long generating the procedures took (and the database's size);
#   b) SubmitProcedure at concurrency 16 over gRPC beside its floor — the same rows written by
#      one prepared transaction from a plain tokio-postgres client (goal ≤ 2×);
#   c) ListProcedures with a 1 km² box and a state filter, as an official (goal p50 ≤ 5 ms);
#   d) re-checks after a layer change: the zoning layers of the municipalities that hold
#      min(100 000, PROCEDURES / 10) active procedures imported again with every zone changed
#      (coverage limit −5, every tenth zone's detailed-plan requirement flipped), timed until the
#      server's re-check job has finished the queue (goal ≤ 10 s for 100 000);
#   e) WatchProcedures with 1 000 watchers while writers change procedures, delivery p99 (goal
#      ≤ 100 ms) — run before d), so that a slow re-check cannot disturb it.
# Not a test: run it by hand. The database is a throwaway cluster in target/ (removed at the end
# unless KOVGIS_BENCH_KEEP=1); at 1 000 000 procedures it takes about 3.4 GB (README: Procedures benchmark).
#
#   scripts/bench-procedures.sh [PROCEDURES]   (default 1000000; PARCELS=775000 synthetic parcels;
#                                               KOVGIS_BENCH_SUBMITS=2000 submissions in b)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PROCEDURES=${1:-1000000}
PARCELS=${PARCELS:-775000}

ensure_packages
T=${CARGO_TARGET_DIR:-target}
PGDIR=$PWD/$T/kovgis-benchp-pg
[ -f "$PGDIR/PG_VERSION" ] && stop_cluster "$PGDIR"
rm -rf "$PGDIR"
PGPORT=$(free_port 54369)
SERVER=
cleanup() {
  [ -n "$SERVER" ] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
  stop_cluster "$PGDIR"
  [ "${KOVGIS_BENCH_KEEP:-0}" = 1 ] || rm -rf "$PGDIR"
}
trap cleanup EXIT
start_cluster "$PGDIR" "$PGPORT"
ADMIN_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/benchp"
SERVICE_URL="postgres://kovgis_service@127.0.0.1:$PGPORT/benchp"

cargo build --release --locked -p kovgis -p kovgis-national-gen -p kovgis-bench
OUT=$T/national-$PARCELS-layers
if [ ! -f "$OUT/restrictions.gpkg" ]; then
  log "generating $PARCELS synthetic parcels and the layers into $OUT (deterministic, seed 1)"
  "$T/release/kovgis-national-gen" --parcels "$PARCELS" --out "$OUT" --layers
fi

log "loading the national data into a fresh database"
"$PG_BIN/psql" "$ADMIN_URL" -qc "CREATE DATABASE benchp OWNER kovgis_owner"
# As on a real server (README: Database roles…): && leakproof for the service role's index use.
"$PG_BIN/psql" "$DATABASE_URL" -qc "CREATE EXTENSION IF NOT EXISTS postgis" \
  -c "ALTER FUNCTION geometry_overlaps(geometry, geometry) LEAKPROOF"
K="$T/release/kovgis"
"$K" migrate >/dev/null 2>&1
"$K" load-demo --municipalities-only >/dev/null 2>&1
"$K" import parcels "$OUT/cadastre.gpkg" -q
for code in $(ogrinfo -so "$OUT/zoning.gpkg" | sed -n 's/^[0-9]*: zoning_\([0-9]*\).*/\1/p'); do
  "$K" import layer "$OUT/zoning.gpkg" --layer "zoning_$code" --kind zoning --municipality "$code" \
    --name zoning --title "Üldplaneering (synthetic)" --map id=zone_id -q >/dev/null
done
"$K" import layer "$OUT/restrictions.gpkg" --kind restriction --national --name restrictions \
  --title "Kitsendused (synthetic)" --map id=restriction_id -q >/dev/null
"$PG_BIN/psql" "$DATABASE_URL" -qc "ANALYZE"

KEYDIR=$PGDIR/bench-auth
"$K" token init-dev-key --dir "$KEYDIR" >/dev/null
PORT=$(free_port 50091)
log "kovgis serve on 127.0.0.1:$PORT as kovgis_service, tokens verified"
# The background jobs (deemed agreement, re-checks) run every second, so that d) waits at most a
# second for its start; the outbox deliverer runs as in production (no authority has a webhook
# here). Watch streams are calls: room for e)'s 1 000 of them.
serve() {
  DATABASE_URL=$SERVICE_URL "$K" serve --jwks "$KEYDIR/jwks" --listen "127.0.0.1:$PORT" \
    --jobs-interval 1 --max-concurrent-calls 4096 >>"$T/bench-procedures-serve.log" 2>&1 &
  SERVER=$!
}
: >"$T/bench-procedures-serve.log"
serve
log "a) generating $PROCEDURES procedures"
"$T/release/kovgis-bench-validate" procedures "$KEYDIR/dev-signing-key.pem" "127.0.0.1:$PORT" \
  "$PROCEDURES"
# The setup wrote a million procedures and millions of events in a few SQL statements, which no
# live server sees at once; a server that was running catches up with their notifications for
# minutes. Restarted, it loads them as a server started on such a database would.
log "restarting kovgis serve"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
serve
log "b), c) measuring"
KOVGIS_BENCH_SEED=31 "$T/release/kovgis-bench-validate" procedures-submit \
  "$KEYDIR/dev-signing-key.pem" "127.0.0.1:$PORT" "$SERVICE_URL"

log "e) 1 000 watchers"
"$T/release/kovgis-bench-validate" procedures-watch "$KEYDIR/dev-signing-key.pem" "127.0.0.1:$PORT"

TARGET=$(( PROCEDURES / 10 < 100000 ? PROCEDURES / 10 : 100000 ))
CODES=$("$PG_BIN/psql" "$DATABASE_URL" -tAc "
  SELECT municipality_code FROM (
    SELECT p.municipality_code, count(*) AS n,
           sum(count(*)) OVER (ORDER BY count(*) DESC, p.municipality_code) AS upto
    FROM procedure p JOIN workflow_state s ON s.workflow_id = p.workflow_id AND s.name = p.state
    WHERE s.active GROUP BY 1) m
  WHERE upto - n < $TARGET ORDER BY n DESC")
TOUCHED=$("$PG_BIN/psql" "$DATABASE_URL" -tAc "
  SELECT count(*) FROM procedure p JOIN workflow_state s ON s.workflow_id = p.workflow_id
         AND s.name = p.state AND s.active
  WHERE p.municipality_code IN ($(printf "'%s'," $CODES | sed 's/,$//'))")
CHANGED=$PGDIR/zoning-changed.gpkg
rm -f "$CHANGED"
for code in $CODES; do
  ogr2ogr -f GPKG $([ -f "$CHANGED" ] && echo -update) "$CHANGED" "$OUT/zoning.gpkg" -nln "zoning_$code" \
    -dialect SQLite -sql "SELECT geom, zone_id, designation, max_coverage_pct - 5 AS max_coverage_pct,
      CASE WHEN CAST(substr(zone_id, 6) AS INTEGER) % 10 = 0 THEN 1 - dp_required ELSE dp_required END
        AS dp_required FROM zoning_$code"
done
log "d) importing the changed zoning of $(echo $CODES | wc -w) municipalities ($TOUCHED active procedures)"
STARTED=$(date +%s.%N)
for code in $CODES; do
  "$K" import layer "$CHANGED" --layer "zoning_$code" --kind zoning --municipality "$code" \
    --name zoning --title "Üldplaneering (synthetic, changed)" --map id=zone_id -q >/dev/null
done
IMPORTED=$(date +%s.%N)
"$T/release/kovgis-bench-validate" procedures-recheck "$STARTED" "$IMPORTED" "$TOUCHED"
df -h "$PGDIR" | tail -1 | awk '{ print "disk: " $4 " free on " $6 " at the end" }'
