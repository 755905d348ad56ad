#!/usr/bin/env bash
# Runs every test of the workspace against a throwaway PostgreSQL + PostGIS: installs what is
# missing, starts a fresh cluster under target/ (or uses DATABASE_URL when set), migrates and
# loads the demo data, runs the tests, and stops the cluster whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages
if [ -z "${DATABASE_URL:-}" ]; then
  PGDIR=$PWD/target/kovgis-test-pg
  # The cluster of a previous, interrupted run is stopped and thrown away.
  [ -f "$PGDIR/PG_VERSION" ] && stop_cluster "$PGDIR"
  rm -rf "$PGDIR"
  PGPORT=$(free_port "${KOVGIS_TEST_PG_PORT:-54339}")
  trap 'stop_cluster "$PGDIR"' EXIT
  start_cluster "$PGDIR" "$PGPORT"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/kovgis"
fi
log "test database: $DATABASE_URL"

# One profile for both README commands: the tests build with --release, like scripts/run.sh, so
# a newcomer who runs the tests and then the service compiles the workspace (and the bundled
# PROJ) once, and the geometry-heavy tests run optimised.
cargo build --release --locked -p kovgis
BIN="${CARGO_TARGET_DIR:-target}/release/kovgis"
"$BIN" migrate
"$BIN" load-demo --fixtures fixtures
# Tests that write (imports) each work in their own database copied from this template.
"$PG_BIN/psql" "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS kovgis_template" \
  -c "CREATE DATABASE kovgis_template TEMPLATE $(basename "${DATABASE_URL%%\?*}")"

cargo test --release --workspace --locked --doc
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --workspace --locked --no-fail-fast
else
  cargo test --release --workspace --locked --no-fail-fast
fi
