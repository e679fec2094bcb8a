#!/usr/bin/env bash
# Starts the Agora server. Installs Node.js 24, pnpm and the packages first when
# needed. Without DATABASE_URL it runs an embedded PostgreSQL with its data in
# .data/pg (see README, "Configuration").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh"
cd "$AGORA_ROOT"
# exec: signals (Ctrl-C, SIGTERM) go straight to the server, which shuts down in order.
exec node packages/server/src/main.ts "$@"
