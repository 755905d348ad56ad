# Shared shell functions of the kovgis scripts: installing what is missing and running a private
# PostgreSQL + PostGIS cluster in a folder of the checkout. Sourced, not run.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

log() { printf '\033[1;34m[kovgis]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[kovgis]\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (install sudo or run as root)"; fi
}

# Debian packages the build and the database need; installed only when missing.
ensure_packages() {
  local want=(postgresql-15 postgresql-15-postgis-3 protobuf-compiler cmake sqlite3 libsqlite3-dev pkg-config libgdal-dev gdal-bin python3-venv)
  local missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 binaries not found in $PG_BIN"
  command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) first"
}

# Runs a PostgreSQL binary as the cluster owner (postgres when we are root: initdb refuses root).
pg_run() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_cluster DIR PORT [durable]: initialises DIR once and starts a server on 127.0.0.1:PORT
# with a database `kovgis`.
#
# Without `durable` the cluster is a throwaway one (tests, benchmarks): every local user may log in
# over TCP without a password, and fsync, full_page_writes and synchronous_commit are off, because
# a crash only loses data that the next run throws away anyway.
#
# With `durable` (the run command's cluster) the server keeps the PostgreSQL defaults that make a
# committed transaction survive a crash (fsync, full_page_writes, synchronous_commit on), and TCP
# logins need the password generated once into `$KOVGIS_PG_PASSWORD_FILE` (mode 600, in a
# folder others cannot list); the Unix socket in DIR is peer-authenticated. A durable cluster
# made by an older version of this script (trust logins, fsync off) is brought up to this on start.
start_cluster() {
  local dir=$1 port=$2 durable=${3:-}
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; chmod 700 "$dir"; fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "initialising a PostgreSQL cluster in $dir"
    if [ -n "$durable" ]; then
      local pwfile
      pwfile=$(mktemp)
      pg_password >"$pwfile"
      [ "$(id -u)" -eq 0 ] && chown postgres: "$pwfile"
      pg_run "$PG_BIN/initdb" -D "$dir" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
        --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >/dev/null
      rm -f "$pwfile"
    else
      pg_run "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
jit = off
shared_buffers = 256MB
max_connections = 200
CONF
    if [ -z "$durable" ]; then
      printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' >>"$dir/postgresql.conf"
    fi
  fi
  if pg_run "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "PostgreSQL already running in $dir"
  else
    pg_run "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -o "-p $port" start >/dev/null \
      || { cat "$dir/server.log" >&2; die "PostgreSQL did not start (log above)"; }
  fi
  if [ -n "$durable" ]; then
    harden_cluster "$dir" "$port"
    PGPASSWORD=$(pg_password)
    export PGPASSWORD
  fi
  # (runuser keeps the environment, so PGPASSWORD reaches psql without a command line.)
  create_roles "$port" "$durable"
  if ! pg_run "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'kovgis'" | grep -q 1; then
    pg_run "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres -O kovgis_owner kovgis
  fi
  # PostGIS needs a superuser to install; everything else is the owner's (kovgis migrate).
  # Under row-level security only leakproof conditions may use an index: PostGIS's bounding-box
  # operator && is marked so (it compares boxes and fails only on mixed SRIDs), or every spatial
  # query of the service role would scan its table (README: Database roles…).
  pg_run "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d kovgis -qc \
    "CREATE EXTENSION IF NOT EXISTS postgis" \
    -c "ALTER FUNCTION geometry_overlaps(geometry, geometry) LEAKPROOF" >/dev/null
}

# create_roles PORT [durable]: the owner role (runs migrations, owns the schema) and the service
# role (what kovgis serves and imports as: owns nothing, cannot bypass row-level security). In a
# durable cluster both log in only with passwords generated once into files next to the
# superuser's ($KOVGIS_PG_PASSWORD_FILE with .owner / .service); a throwaway cluster trusts
# local TCP logins, as it does for the superuser.
create_roles() {
  local port=$1 durable=${2:-} owner_pw='' service_pw=''
  if [ -n "$durable" ]; then
    owner_pw=$(pg_password "$KOVGIS_PG_PASSWORD_FILE.owner")
    service_pw=$(pg_password "$KOVGIS_PG_PASSWORD_FILE.service")
  fi
  # Passwords reach psql on standard input, never on a command line.
  pg_run "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
    >/dev/null <<SQL
SELECT 'CREATE ROLE kovgis_owner' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kovgis_owner')
\\gexec
SELECT 'CREATE ROLE kovgis_service' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kovgis_service')
\\gexec
ALTER ROLE kovgis_owner LOGIN NOSUPERUSER NOBYPASSRLS ${owner_pw:+PASSWORD '$owner_pw'};
ALTER ROLE kovgis_service LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE ${service_pw:+PASSWORD '$service_pw'};
SQL
}

# cluster_urls PORT [durable]: exports DATABASE_URL (the service role), KOVGIS_OWNER_DATABASE_URL
# (the owner, for kovgis migrate) and KOVGIS_ADMIN_URL (the superuser) of database kovgis.
cluster_urls() {
  local port=$1 durable=${2:-} su='postgres' owner='kovgis_owner' service='kovgis_service'
  if [ -n "$durable" ]; then
    su="postgres:$(pg_password)"
    owner="kovgis_owner:$(pg_password "$KOVGIS_PG_PASSWORD_FILE.owner")"
    service="kovgis_service:$(pg_password "$KOVGIS_PG_PASSWORD_FILE.service")"
  fi
  export DATABASE_URL="postgres://$service@127.0.0.1:$port/kovgis"
  export KOVGIS_OWNER_DATABASE_URL="postgres://$owner@127.0.0.1:$port/kovgis"
  export KOVGIS_ADMIN_URL="postgres://$su@127.0.0.1:$port/kovgis"
}

# Where the run command's database password is kept: the checkout's private folder.
KOVGIS_PG_PASSWORD_FILE=${KOVGIS_PG_PASSWORD_FILE:-$PWD/.kovgis/pg.password}

# pg_password [FILE]: prints the durable cluster's password (the superuser's, or the one kept in
# FILE), generating it (and its private folder) the first time.
pg_password() {
  local file=${1:-$KOVGIS_PG_PASSWORD_FILE}
  if [ ! -s "$file" ]; then
    local folder
    folder=$(dirname "$file")
    # Not listable by others; as root it must stay traversable (711), because the cluster
    # folder inside it belongs to the postgres user.
    mkdir -p "$folder"
    if [ "$(id -u)" -eq 0 ]; then chmod 711 "$folder"; else chmod 700 "$folder"; fi
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 \
      >"$file")
  fi
  cat "$file"
}

# harden_cluster DIR PORT: a durable cluster made before passwords and fsync (trust logins,
# `fsync = off` lines) gets the password, password-only TCP logins and crash safety back.
harden_cluster() {
  local dir=$1 port=$2
  local hba=$dir/pg_hba.conf conf=$dir/postgresql.conf changed=
  if pg_run grep -Eq '^[^#]*[[:space:]]trust[[:space:]]*$' "$hba"; then
    log "setting a password on the cluster in $dir (kept in $KOVGIS_PG_PASSWORD_FILE)"
    printf "ALTER ROLE postgres PASSWORD '%s';\n" "$(pg_password)" \
      | pg_run "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -q >/dev/null
    pg_run sed -i -E -e 's/^(local[[:space:]].*[[:space:]])trust[[:space:]]*$/\1peer/' \
      -e 's/^(host[[:space:]].*[[:space:]])trust[[:space:]]*$/\1scram-sha-256/' "$hba"
    changed=1
  fi
  if pg_run grep -Eq '^(fsync|synchronous_commit|full_page_writes) = off' "$conf"; then
    log "turning fsync, full_page_writes and synchronous_commit back on in $dir"
    pg_run sed -i -E '/^(fsync|synchronous_commit|full_page_writes) = off/d' "$conf"
    changed=1
  fi
  if [ -n "$changed" ]; then pg_run "$PG_BIN/pg_ctl" -D "$dir" reload >/dev/null; sleep 1; fi
}

stop_cluster() {
  local dir=$1
  pg_run "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

# A free TCP port on 127.0.0.1, starting from $1.
free_port() {
  local p=$1
  while (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

# A database URL as it may be shown: the password, if any, replaced by ***.
redact_url() {
  printf '%s\n' "$1" | sed -E 's#^([a-z]+://[^:/@]*):[^@]*@#\1:***@#'
}

# ensure_tools: with DATABASE_URL set the scripts install nothing: this only names what is
# missing for the build (and psql) and stops.
ensure_tools() {
  local want=(postgresql-client-15 protobuf-compiler cmake sqlite3 libsqlite3-dev pkg-config libgdal-dev gdal-bin)
  local missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] || die "DATABASE_URL is set, so nothing is installed; missing Debian packages: ${missing[*]} (install them, or unset DATABASE_URL to let the script install them with a private cluster)"
  [ -x "$PG_BIN/psql" ] || die "psql not found in $PG_BIN (Debian: postgresql-client-15)"
  command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) first"
}

# psql_url URL ARGS…: psql on a database URL without putting its password on a command line
# (where every local user could read it): the password travels in PGPASSWORD.
psql_url() {
  local url=$1
  shift
  local password=
  if [[ $url =~ ^([a-z]+://[^:/@]*):([^@]*)@(.*)$ ]]; then
    password=$(printf '%b' "${BASH_REMATCH[2]//%/\\x}")
    url="${BASH_REMATCH[1]}@${BASH_REMATCH[3]}"
  fi
  PGPASSWORD=${password:-${PGPASSWORD:-}} "$PG_BIN/psql" "$url" "$@"
}
