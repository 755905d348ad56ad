#!/usr/bin/env bash
# Checks what scripts/run.sh promises of its private cluster, on a scratch cluster made by the same
# function (start_cluster … durable) under target/: fsync, full_page_writes and synchronous_commit
# are on; a TCP login without the password, or with a wrong one, is refused; the generated password
# files (the superuser's, kovgis_owner's and kovgis_service's) are private (600) and nothing logs
# in without them. Then it checks that a cluster made the old way (trust logins, fsync off) is
# brought up to the same on start. Run by scripts/test.sh; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

SCRATCH=$PWD/target/kovgis-durable-check
PGDIR=$SCRATCH/pg
export KOVGIS_PG_PASSWORD_FILE=$SCRATCH/pg.password
cleanup() { [ -f "$PGDIR/PG_VERSION" ] && stop_cluster "$PGDIR"; rm -rf "$SCRATCH"; }
cleanup
trap cleanup EXIT
fail() { die "durable cluster check: $*"; }
PGPORT=$(free_port 54349)

# try_login PASSWORD: exit status of a TCP login as postgres with that password ('' = none).
try_login() {
  env -u PGPASSWORD ${1:+PGPASSWORD="$1"} "$PG_BIN/psql" -w -h 127.0.0.1 -p "$PGPORT" -U postgres \
    -d kovgis -tAc 'SELECT 1' >/dev/null 2>&1
}

check() {
  local what=$1
  for setting in fsync full_page_writes synchronous_commit; do
    value=$(PGPASSWORD=$(pg_password) "$PG_BIN/psql" -w -h 127.0.0.1 -p "$PGPORT" -U postgres -d kovgis \
      -tAc "SHOW $setting") || fail "$what: cannot log in with the generated password"
    [ "$value" = on ] || fail "$what: $setting is $value, not on"
  done
  try_login "" && fail "$what: a TCP login without a password was accepted"
  try_login "not-the-password" && fail "$what: a TCP login with a wrong password was accepted"
  [ "$(stat -c %a "$KOVGIS_PG_PASSWORD_FILE")" = 600 ] || fail "$what: the password file is not mode 600"
  # The owner and service roles: their own passwords, nothing without them.
  for role in owner service; do
    env -u PGPASSWORD "$PG_BIN/psql" -w -h 127.0.0.1 -p "$PGPORT" -U "kovgis_$role" -d kovgis \
      -tAc 'SELECT 1' >/dev/null 2>&1 && fail "$what: kovgis_$role logged in without a password"
    PGPASSWORD=$(pg_password "$KOVGIS_PG_PASSWORD_FILE.$role") "$PG_BIN/psql" -w -h 127.0.0.1 \
      -p "$PGPORT" -U "kovgis_$role" -d kovgis -tAc 'SELECT 1' >/dev/null \
      || fail "$what: kovgis_$role cannot log in with its generated password"
    [ "$(stat -c %a "$KOVGIS_PG_PASSWORD_FILE.$role")" = 600 ] \
      || fail "$what: the kovgis_$role password file is not mode 600"
  done
  case $(stat -c %A "$(dirname "$KOVGIS_PG_PASSWORD_FILE")") in
    d???-??-??) ;;
    *) fail "$what: others can list the password's folder" ;;
  esac
  log "durable cluster check ($what): fsync, full_page_writes, synchronous_commit on; passwordless and wrong-password logins refused"
}

(unset PGPASSWORD; start_cluster "$PGDIR" "$PGPORT" durable)
check "new cluster"
stop_cluster "$PGDIR"
rm -rf "$PGDIR" "$KOVGIS_PG_PASSWORD_FILE" "$KOVGIS_PG_PASSWORD_FILE".*

# A cluster as the run command made it before: trust logins and fsync off.
(unset PGPASSWORD; start_cluster "$PGDIR" "$PGPORT")
try_login "" || fail "setup: the throwaway cluster should accept a passwordless login"
(unset PGPASSWORD; start_cluster "$PGDIR" "$PGPORT" durable)
check "older cluster brought up to date"
