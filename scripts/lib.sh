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
  local want=(postgresql-15 postgresql-15-postgis-3 protobuf-compiler cmake sqlite3 libsqlite3-dev pkg-config libgdal-dev gdal-bin)
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

# start_cluster DIR PORT: initialises DIR once and starts a server on 127.0.0.1:PORT.
start_cluster() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; chmod 700 "$dir"; fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "initialising a PostgreSQL cluster in $dir"
    pg_run "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
jit = off
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
max_connections = 200
CONF
  fi
  if pg_run "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "PostgreSQL already running in $dir"
  else
    pg_run "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -o "-p $port" start >/dev/null \
      || { cat "$dir/server.log" >&2; die "PostgreSQL did not start (log above)"; }
  fi
  if ! pg_run "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'kovgis'" | grep -q 1; then
    pg_run "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres kovgis
  fi
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
