#!/usr/bin/env bash
# The Vite plugin's tests: npm ci, strict type check, build, then node:test
# against a real Vite (a production build and a dev server with an HMR
# client) and the real `tagwire` binary, built here if missing. Needs cargo,
# node 20.19+ and npm.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
cargo build --quiet --locked -p tagwire-compiler --features cli --bin tagwire
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')
export TAGWIRE_BIN="${TAGWIRE_BIN:-$target_dir/debug/tagwire}"
npm run check
npm test
