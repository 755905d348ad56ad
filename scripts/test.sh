#!/usr/bin/env bash
# Runs every test of the workspace against a throwaway PostgreSQL + PostGIS: installs what is
# missing, starts a fresh cluster under target/, migrates and loads the demo data, runs the tests,
# and stops the cluster whatever happens.
#
# With DATABASE_URL set it installs nothing and starts no cluster: it migrates that database and
# loads the demo data into it only when KOVGIS_LOAD_DEMO=1 (the tests need it there); tests that
# import work in databases they create from a copy of it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ -z "${DATABASE_URL:-}" ]; then
  ensure_packages
  LOAD_DEMO=1
  PGDIR=$PWD/target/kovgis-test-pg
  # The cluster of a previous, interrupted run is stopped and thrown away.
  [ -f "$PGDIR/PG_VERSION" ] && stop_cluster "$PGDIR"
  rm -rf "$PGDIR"
  PGPORT=$(free_port "${KOVGIS_TEST_PG_PORT:-54339}")
  trap 'stop_cluster "$PGDIR"' EXIT
  start_cluster "$PGDIR" "$PGPORT"
  # DATABASE_URL is the service role (what the code under test connects as); the tests' own
  # plain SQL runs as the superuser (KOVGIS_TEST_ADMIN_URL); migrations as the owner.
  cluster_urls "$PGPORT"
  export KOVGIS_TEST_ADMIN_URL=$KOVGIS_ADMIN_URL
else
  ensure_tools
  LOAD_DEMO=${KOVGIS_LOAD_DEMO:-0}
  export KOVGIS_TEST_ADMIN_URL=${KOVGIS_TEST_ADMIN_URL:-$DATABASE_URL}
fi
ADMIN_URL=$KOVGIS_TEST_ADMIN_URL
log "test database: $(redact_url "$DATABASE_URL")"

# One profile for both README commands: the tests build with --release, like scripts/run.sh, so
# a newcomer who runs the tests and then the service compiles the workspace (and the bundled
# PROJ) once, and the geometry-heavy tests run optimised.
cargo build --release --locked -p kovgis
BIN="${CARGO_TARGET_DIR:-target}/release/kovgis"
"$BIN" migrate
if [ "$LOAD_DEMO" = 1 ]; then
  "$BIN" load-demo --fixtures fixtures
elif [ "$(psql_url "$ADMIN_URL" -tAc "SELECT count(*) FROM municipality")" != 79 ]; then
  die "the tests need the demo data in DATABASE_URL: KOVGIS_LOAD_DEMO=1 loads it there (or unset DATABASE_URL for a throwaway cluster)"
fi
# Tests that write (imports) each work in their own database copied from this template.
psql_url "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS kovgis_template" \
  -c "CREATE DATABASE kovgis_template TEMPLATE $(basename "${DATABASE_URL%%\?*}")"

cargo test --release --workspace --locked --doc
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --workspace --locked --no-fail-fast
else
  cargo test --release --workspace --locked --no-fail-fast
fi

# The run command's private cluster: durable, and no login without its password.
scripts/check-durable-cluster.sh
