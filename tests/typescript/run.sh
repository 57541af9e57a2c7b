#!/usr/bin/env bash
# Generates TypeScript for every schema in schemas/, type-checks it with tsc
# (strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess,
# verbatimModuleSyntax, noUnused*) and runs the node:test suites against it,
# including the client's integration tests against the Rust relay-server.
# Needs cargo, node 20+ and npm.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
# The runtime is a file: dependency; build its dist/ with this project's tsc.
npx tsc -p ../../runtime/typescript
# The generated modules (gitignored), written by the CLI exactly as users run it.
rm -rf generated
for schema in $(find ../../schemas -name '*.schema' | sort); do
  cargo run --quiet --locked -p tagwire-compiler --bin tagwire -- gen ts "$schema" --out generated --locked
done
# The Rust relay server the client's integration tests (test/client.test.ts)
# run against, named by path in TAGWIRE_RELAY_SERVER.
cargo build --quiet --locked -p tagwire-tests --bin relay-server
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')
export TAGWIRE_RELAY_SERVER="$target_dir/debug/relay-server"
npm run check
npm test
