#!/usr/bin/env bash
# Runs kovgis with the demo data: installs what is missing, starts a private PostgreSQL + PostGIS
# in .kovgis/pg, migrates, loads the demo data and serves gRPC. Re-running it is harmless: the
# cluster and loaded data are reused. The private cluster is durable (fsync on) and takes TCP
# logins only with the password generated into .kovgis/pg.password.
#
# With DATABASE_URL set it installs nothing (it names what is missing), starts no cluster,
# migrates that database and loads the demo data only when KOVGIS_LOAD_DEMO=1.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ -z "${DATABASE_URL:-}" ]; then
  ensure_packages
  PGDIR=$PWD/.kovgis/pg
  PGPORT=${KOVGIS_PG_PORT:-54329}
  if [ ! -f "$PGDIR/postmaster.pid" ]; then PGPORT=$(free_port "$PGPORT"); fi
  [ -f "$PGDIR/postgresql.conf" ] && PGPORT=$(pg_run sed -n "s/^port = //p" "$PGDIR/postgresql.conf" | tail -1)
  start_cluster "$PGDIR" "$PGPORT" durable
  # kovgis serves as kovgis_service and migrates as kovgis_owner (passwords in
  # .kovgis/pg.password.service and .owner, the superuser's in .kovgis/pg.password).
  cluster_urls "$PGPORT" durable
  # A database made before the owner role existed: its schema is the superuser's, which hands it
  # to the owner by migrating once (migration 0008).
  if [ "$(psql_url "$KOVGIS_ADMIN_URL" -tAc \
      "SELECT tableowner FROM pg_tables WHERE tablename = 'schema_migration'")" = postgres ]; then
    log "handing the schema to kovgis_owner (one migration as the superuser)"
    KOVGIS_OWNER_DATABASE_URL=$KOVGIS_ADMIN_URL "${CARGO_TARGET_DIR:-target}/release/kovgis" migrate 2>/dev/null \
      || { cargo build --release --locked -p kovgis && KOVGIS_OWNER_DATABASE_URL=$KOVGIS_ADMIN_URL \
           "${CARGO_TARGET_DIR:-target}/release/kovgis" migrate; }
  fi
  LOAD_DEMO=1
  log "database: $(redact_url "$DATABASE_URL") (passwords in .kovgis/; stop it with: scripts/stop.sh)"
else
  ensure_tools
  LOAD_DEMO=${KOVGIS_LOAD_DEMO:-0}
  log "database: $(redact_url "$DATABASE_URL") (from DATABASE_URL)"
fi

log "building kovgis (release)"
cargo build --release --locked -p kovgis
BIN="${CARGO_TARGET_DIR:-target}/release/kovgis"
"$BIN" migrate
if [ "$LOAD_DEMO" = 1 ]; then
  "$BIN" load-demo --fixtures fixtures
else
  log "demo data not loaded (DATABASE_URL is set; KOVGIS_LOAD_DEMO=1 loads it into that database)"
fi
LISTEN=${KOVGIS_LISTEN:-127.0.0.1:50051}
# Identity: a development signing key made on first start (kept, never overwritten) and tokens of
# a demo Tartu official (and approver), GIS specialist, applicant and Keskkonnaamet, written to the
# private folder for the examples (README: Procedures).
AUTH_DIR=${KOVGIS_AUTH_DIR:-$PWD/.kovgis/auth}
"$BIN" token init-dev-key --dir "$AUTH_DIR" >/dev/null
export KOVGIS_JWKS=${KOVGIS_JWKS:-$AUTH_DIR/jwks}
mint() { "$BIN" token --key "$AUTH_DIR/dev-signing-key.pem" --ttl 24h "$@"; }
(umask 077
 mint --subject demo-tartu-official --municipality 0793 --role official --role approver \
   >"$AUTH_DIR/demo-official.token"
 mint --subject demo-tartu-gis --municipality 0793 --role gis_specialist \
   >"$AUTH_DIR/demo-gis.token"
 mint --subject EE38001010009 --municipality 0793 --role applicant --personal-code 38001010009 \
   >"$AUTH_DIR/demo-applicant.token"
 mint --subject demo-keskkonnaamet --scope authority:Keskkonnaamet \
   >"$AUTH_DIR/demo-keskkonnaamet.token")
cat >&2 <<MSG

  kovgis serves gRPC on $LISTEN (reflection, health and gRPC-Web enabled). Every call but
  health and reflection needs a bearer token; demo tokens (24 h) of a Tartu official and a Tartu
  GIS specialist are in $AUTH_DIR/demo-official.token and demo-gis.token (an applicant's and
  Keskkonnaamet's in demo-applicant.token and demo-keskkonnaamet.token):
    official:       $(cat "$AUTH_DIR/demo-official.token")
    GIS specialist: $(cat "$AUTH_DIR/demo-gis.token")
  Try:
    python3 -m venv .kovgis/venv && .kovgis/venv/bin/pip install -q grpcio grpcio-reflection protobuf
    .kovgis/venv/bin/python scripts/example_client.py $LISTEN
  or, if you have grpcurl:
    grpcurl -plaintext $LISTEN list
    grpcurl -plaintext -H "authorization: Bearer \$(cat $AUTH_DIR/demo-official.token)" \\
      -d '{"contains_point":{"geojson":"{\"type\":\"Point\",\"coordinates\":[24.8337,59.4665]}"}}' \\
      $LISTEN kovgis.v1.SpatialService/FindParcels

MSG
exec "$BIN" serve --listen "$LISTEN"
