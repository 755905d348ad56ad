#!/usr/bin/env bash
# Checks the kovgis.v1 API with buf (pinned in proto/package-lock.json): the lint rules of
# proto/buf.yaml, and no breaking change against the frozen baseline proto/kovgis/v1.binpb.
# After a deliberate, reviewed change to a not-yet-frozen API the baseline is rewritten with
#   (cd proto && npx buf build -o kovgis/v1.binpb)
set -euo pipefail
cd "$(dirname "$0")/../proto"
. ../scripts/lib.sh
command -v npm >/dev/null || die "npm not found: install Node.js (Debian: apt-get install nodejs npm)"
[ -x node_modules/.bin/buf ] || npm ci --no-audit --no-fund --loglevel=error
log "buf lint"
node_modules/.bin/buf lint
log "buf breaking against kovgis/v1.binpb"
node_modules/.bin/buf breaking --against kovgis/v1.binpb
