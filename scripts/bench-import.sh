#!/usr/bin/env bash
# Import benchmark on the national-scale synthetic cadastre (fixtures/national): a full import
# into an empty database, an update with ~1 % of parcels changed, and ogr2ogr (GDAL, COPY, GiST)
# loading the same GeoPackage into the same database in the same run as the reference.
# Prints wall time, rows/s, peak memory and ratios. Not a test: run it by hand.
#
#   scripts/bench-import.sh [PARCELS]      (default 775000; RUNS=3 repetitions, medians printed)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PARCELS=${1:-775000}
RUNS=${RUNS:-3}

ensure_packages
command -v /usr/bin/time >/dev/null || as_root apt-get install -y -qq time >/dev/null
if [ -z "${DATABASE_URL:-}" ]; then
  PGDIR=$PWD/target/kovgis-bench-pg
  [ -f "$PGDIR/PG_VERSION" ] && stop_cluster "$PGDIR"
  rm -rf "$PGDIR"
  PGPORT=$(free_port 54349)
  trap 'stop_cluster "$PGDIR"' EXIT
  start_cluster "$PGDIR" "$PGPORT"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/kovgis"
fi
ADMIN_URL="${DATABASE_URL%/*}/postgres"
HOSTPORT=${DATABASE_URL#*@}; HOSTPORT=${HOSTPORT%%/*}
PGHOST=${HOSTPORT%:*}; PGPORT_=${HOSTPORT#*:}

cargo build --release --locked -p kovgis -p kovgis-national-gen
T=${CARGO_TARGET_DIR:-target}
OUT=$T/national-$PARCELS
if [ ! -f "$OUT/cadastre_update.gpkg" ]; then
  log "generating $PARCELS synthetic parcels into $OUT (deterministic, seed 1)"
  "$T/release/kovgis-national-gen" --parcels "$PARCELS" --out "$OUT" --update 0.01
fi

fresh_db() {
  "$PG_BIN/psql" "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench"
}
BENCH_URL="${DATABASE_URL%/*}/bench"

# run LABEL CMD…: wall seconds and peak RSS (MiB) into $LABEL_s / $LABEL_mib
run() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$OUT/$label.time" "$@" >"$OUT/$label.out" 2>"$OUT/$label.err" \
    || { cat "$OUT/$label.err" >&2; die "$label failed"; }
  read -r secs kib <"$OUT/$label.time"
  printf -v "${label}_s" '%s' "$secs"
  printf -v "${label}_mib" '%s' "$((kib / 1024))"
}

ROWS=$("$T/release/kovgis-national-gen" --help >/dev/null; ogrinfo -so -al "$OUT/cadastre.gpkg" | sed -n 's/^Feature Count: //p')

median() { tr ' ' '\n' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ogr_all=""; full_all=""; update_all=""; ogr_mem=0; full_mem=0; update_mem=0
for run_no in $(seq 1 "$RUNS"); do
  log "run $run_no/$RUNS: ogr2ogr -f PostgreSQL (COPY, GiST) into an empty database"
  fresh_db
  run ogr ogr2ogr -f PostgreSQL "PG:host=$PGHOST port=$PGPORT_ user=postgres dbname=bench" "$OUT/cadastre.gpkg" \
    -nln ogr_parcels -lco SPATIAL_INDEX=GIST -lco GEOMETRY_NAME=geom --config PG_USE_COPY YES

  log "run $run_no/$RUNS: kovgis import, full national cadastre into an empty database"
  fresh_db
  DATABASE_URL=$BENCH_URL "$T/release/kovgis" migrate >/dev/null 2>&1
  DATABASE_URL=$BENCH_URL "$T/release/kovgis" load-demo --municipalities-only >/dev/null 2>&1
  DATABASE_URL=$BENCH_URL run full "$T/release/kovgis" import parcels "$OUT/cadastre.gpkg" -q
  log "run $run_no/$RUNS: kovgis import, the next day's file (~1 % changed)"
  DATABASE_URL=$BENCH_URL run update "$T/release/kovgis" import parcels "$OUT/cadastre_update.gpkg" -q
  ogr_all="$ogr_all $ogr_s"; full_all="$full_all $full_s"; update_all="$update_all $update_s"
  ogr_mem=$(( ogr_mib > ogr_mem ? ogr_mib : ogr_mem ))
  full_mem=$(( full_mib > full_mem ? full_mib : full_mem ))
  update_mem=$(( update_mib > update_mem ? update_mib : update_mem ))
done
ogr_s=$(echo $ogr_all | median); full_s=$(echo $full_all | median); update_s=$(echo $update_all | median)
ogr_mib=$ogr_mem; full_mib=$full_mem; update_mib=$update_mem

cat "$OUT/full.out" "$OUT/update.out"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
cat <<TABLE

import benchmark: $ROWS parcels ($(du -h "$OUT/cadastre.gpkg" | cut -f1) GeoPackage), $(nproc) cores, median of $RUNS runs
  runs (s): ogr2ogr$ogr_all | full$full_all | update$update_all
  what                         wall s   rows/s    peak MiB
  ogr2ogr (COPY, GiST)         $(printf '%6s %8s %10s' "$ogr_s" "$(rate "$ROWS" "$ogr_s")" "$ogr_mib")
  kovgis import, full          $(printf '%6s %8s %10s' "$full_s" "$(rate "$ROWS" "$full_s")" "$full_mib")
  kovgis import, 1 % update    $(printf '%6s %8s %10s' "$update_s" "$(rate "$ROWS" "$update_s")" "$update_mib")
  full / ogr2ogr = $(ratio "$full_s" "$ogr_s")   (goal ≤ 1.00; stretch ≤ 0.67)
  update / full  = $(ratio "$update_s" "$full_s")   (goal ≤ 0.20)
TABLE
