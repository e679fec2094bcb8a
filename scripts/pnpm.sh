#!/usr/bin/env bash
# Runs pnpm with the project's toolchain (Node.js 24, pinned pnpm, packages
# installed), for machines whose own Node.js is older: bash scripts/pnpm.sh bench:eventstore
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh"
cd "$AGORA_ROOT"
exec pnpm "$@"
