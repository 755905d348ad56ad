#!/usr/bin/env bash
# Validation benchmark on the national-scale synthetic data (fixtures/national): the cadastre,
# per-municipality zoning and national restrictions imported with `kovgis import`, plus a building
# layer drawn on a third of the parcels. Prints index build time and memory, the engine's
# per-check latency against the same checks in PostGIS (same data, same run), gRPC throughput
# at concurrency 1/16/64 and through the batch RPC, and the hostile-load run: the do-nothing
# ceiling (health checks/s) against validations/s, then 8 clients sending worst-case requests
# while 16 send ordinary footprints (hostile calls answered/refused, ordinary p50/p99, the
# server's resident memory idle and at its peak). Last, what identity and row-level security
# cost: the same validations (64 clients, each its own ES256 token) and QueryFeatures on a
# municipal layer against three servers on the same data — authentication off, on, and on with
# row-level security (the service role) — in alternating rounds, with the throughput ratios.
# Not a test: run it by hand.
#
#   scripts/bench-validate.sh [PARCELS]      (default 775000)
#   KOVGIS_BENCH_PARTS="grpc auth" scripts/bench-validate.sh   (only those parts; default all of
#                                              inprocess grpc hostile auth)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PARCELS=${1:-775000}
PARTS=" ${KOVGIS_BENCH_PARTS:-inprocess grpc hostile auth} "
part() { [[ "$PARTS" == *" $1 "* ]]; }

ensure_packages
if [ -z "${DATABASE_URL:-}" ]; then
  PGDIR=$PWD/target/kovgis-benchv-pg
  [ -f "$PGDIR/PG_VERSION" ] && stop_cluster "$PGDIR"
  rm -rf "$PGDIR"
  PGPORT=$(free_port 54359)
  trap 'stop_cluster "$PGDIR"' EXIT
  start_cluster "$PGDIR" "$PGPORT"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/kovgis"
fi
ADMIN_URL="${DATABASE_URL%/*}/postgres"
BENCH_URL="${DATABASE_URL%/*}/benchv"

cargo build --release --locked -p kovgis -p kovgis-national-gen -p kovgis-bench
T=${CARGO_TARGET_DIR:-target}
OUT=$T/national-$PARCELS-layers
if [ ! -f "$OUT/restrictions.gpkg" ]; then
  log "generating $PARCELS synthetic parcels and the layers into $OUT (deterministic, seed 1)"
  "$T/release/kovgis-national-gen" --parcels "$PARCELS" --out "$OUT" --layers
fi

log "loading the national data into a fresh database"
"$PG_BIN/psql" "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS benchv" -c "CREATE DATABASE benchv"
export DATABASE_URL=$BENCH_URL
# As on a real server (README: Database roles…): && leakproof, or row-level security keeps the
# service role's spatial queries from their index.
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
# Buildings: a rectangle of ~12 % of every third parcel (at most 30 m × 30 m) around a point in it.
"$PG_BIN/psql" "$DATABASE_URL" -q <<'SQL'
BEGIN;
INSERT INTO dataset_version (target, source, file_sha256, mode)
VALUES ('derived', 'bench buildings', repeat('0', 64), 'replace');
INSERT INTO layer (municipality_code, name, title, kind, description, attribution)
VALUES (NULL, 'buildings', 'Hooned (synthetic)', 'building', 'benchmark buildings', 'synthetic');
INSERT INTO feature (layer_id, municipality_code, external_id, attributes, geom, valid_from, dataset_version_id)
SELECT (SELECT id FROM layer WHERE name = 'buildings' AND municipality_code IS NULL), NULL,
       'B-' || p.cadastral_code, '{}',
       ST_Expand(ST_PointOnSurface(p.geom), least(15.0, sqrt(ST_Area(p.geom) * 0.12) / 2)),
       now(), currval('dataset_version_id_seq')
FROM parcel p WHERE p.valid_to IS NULL AND p.id % 3 = 0;
COMMIT;
ANALYZE;
SQL

if part inprocess; then
  log "in-process engine vs PostGIS"
  "$T/release/kovgis-bench-validate" inprocess
fi

SERVERS=()
trap 'kill "${SERVERS[@]}" 2>/dev/null || true; [ -n "${PGDIR:-}" ] && stop_cluster "$PGDIR"' EXIT

if part grpc || part hostile; then
  PORT=$(free_port 50071)
  log "gRPC: kovgis serve on 127.0.0.1:$PORT and a load client on the same machine"
  # These figures have always been taken with authentication off (a fixed identity); the
  # "auth" part below measures what authentication and row-level security add.
  "$K" serve --insecure-no-auth --listen "127.0.0.1:$PORT" >"$OUT/serve.log" 2>&1 &
  SERVER=$!
  SERVERS+=("$SERVER")
  part grpc && "$T/release/kovgis-bench-validate" grpc "127.0.0.1:$PORT"
  if part hostile; then
    log "hostile load: 8 clients with worst-case requests, 16 with ordinary footprints"
    "$T/release/kovgis-bench-validate" hostile "127.0.0.1:$PORT" "$SERVER"
  fi
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
fi

if part auth; then
  log "identity and row-level security: three servers on the same data"
  KEYDIR=$OUT/bench-auth
  "$K" token init-dev-key --dir "$KEYDIR" >/dev/null
  SERVICE_URL=${KOVGIS_BENCH_SERVICE_URL:-"postgres://kovgis_service@${DATABASE_URL#*@}"}
  P1=$(free_port 50081); P2=$(free_port 50082); P3=$(free_port 50083)
  COMMON=(--max-feature-streams 12)
  "$K" serve --insecure-no-auth --listen "127.0.0.1:$P1" "${COMMON[@]}" >"$OUT/serve-plain.log" 2>&1 &
  SERVERS+=($!)
  "$K" serve --jwks "$KEYDIR/jwks" --listen "127.0.0.1:$P2" "${COMMON[@]}" >"$OUT/serve-authed.log" 2>&1 &
  SERVERS+=($!)
  DATABASE_URL=$SERVICE_URL "$K" serve --jwks "$KEYDIR/jwks" --listen "127.0.0.1:$P3" "${COMMON[@]}" \
    >"$OUT/serve-full.log" 2>&1 &
  SERVERS+=($!)
  "$T/release/kovgis-bench-validate" auth "$KEYDIR/dev-signing-key.pem" \
    "127.0.0.1:$P1" "127.0.0.1:$P2" "127.0.0.1:$P3"
fi
