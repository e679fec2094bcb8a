# Sourced by the other scripts (bash). Puts Node.js 24 and the pinned pnpm on
# PATH, installing them from the npm registry into <repo>/.tools when the
# machine's own are missing or older, then installs the workspace's packages
# when node_modules is missing or the lockfile changed since the last install.
# Quiet when there is nothing to do. Needs only bash and some Node.js with npm.

AGORA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AGORA_ROOT

agora_toolchain() {
  local node_version="24.21.0" pnpm_version="10.34.9" # pnpm: as "packageManager" in package.json
  local tools="$AGORA_ROOT/.tools" os arch

  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) echo "toolchain: unsupported OS $(uname -s)" >&2; return 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "toolchain: unsupported CPU $(uname -m)" >&2; return 1 ;;
  esac

  local node_major
  node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$node_major" -lt 24 ]; then
    local node_bin="$tools/node_modules/node-$os-$arch/bin"
    if [ "$("$node_bin/node" --version 2>/dev/null)" != "v$node_version" ]; then
      if ! command -v npm >/dev/null; then
        echo "toolchain: need Node.js >= 24, or any Node.js with npm to install it" >&2
        return 1
      fi
      echo "toolchain: installing Node.js $node_version into .tools (the machine's Node.js is older than 24)" >&2
      npm i --no-audit --no-fund --loglevel=error --prefix "$tools" "node-$os-$arch@$node_version" >&2 || return 1
    fi
    PATH="$node_bin:$PATH"
  fi

  if [ "$(pnpm --version 2>/dev/null)" != "$pnpm_version" ]; then
    if [ "$("$tools/node_modules/.bin/pnpm" --version 2>/dev/null)" != "$pnpm_version" ]; then
      echo "toolchain: installing pnpm $pnpm_version into .tools" >&2
      npm i --no-audit --no-fund --loglevel=error --prefix "$tools" "pnpm@$pnpm_version" >&2 || return 1
    fi
    PATH="$tools/node_modules/.bin:$PATH"
  fi
  export PATH

  # The stamp covers everything `pnpm install` reads, so a changed manifest
  # without a matching lockfile fails here (frozen lockfile), not later.
  local stamp="$AGORA_ROOT/node_modules/.agora-lock-hash" hash
  hash="$(cd "$AGORA_ROOT" && node -e '
    const { createHash } = require("node:crypto")
    const { readFileSync, readdirSync, existsSync } = require("node:fs")
    const files = ["pnpm-lock.yaml", "pnpm-workspace.yaml", "package.json",
      ...readdirSync("packages").map((p) => `packages/${p}/package.json`).filter(existsSync)]
    const h = createHash("sha256").update(process.version)
    for (const f of files) h.update(f).update(readFileSync(f))
    console.log(h.digest("hex"))')" || return 1
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
    echo "toolchain: installing the workspace's packages (pnpm install --frozen-lockfile)" >&2
    (cd "$AGORA_ROOT" && pnpm install --frozen-lockfile --reporter=append-only --config.confirmModulesPurge=false) >&2 || return 1
    echo "$hash" >"$stamp"
  fi
}

agora_toolchain
