#!/usr/bin/env bash
# Generates TypeScript for every schema in schemas/, type-checks it with tsc
# (strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess,
# verbatimModuleSyntax, noUnused*) and runs the node:test suites against it,
# including the client's integration tests against the Rust relay-server and
# the protocol-evolution tests against evolution-server. Needs cargo, node 20+
# and npm.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
# The runtime is a file: dependency; build its dist/ with this project's tsc.
npx tsc -p ../../runtime/typescript
# The generated modules (gitignored), written by the CLI exactly as users run it.
rm -rf generated
for schema in $(find ../../schemas -name '*.schema' | sort); do
  cargo run --quiet --locked -p tagwire-compiler --features cli --bin tagwire -- gen ts "$schema" --out generated --locked
done
# The protocol-evolution deploy test (test/evolution.test.ts): last week's
# client is the frozen old bundle (tests/fixtures/evolution/old-bundle, never
# regenerated), this week's is generated from v2 like the others.
mkdir -p generated/evolution/v1
cp ../fixtures/evolution/old-bundle/live.ts generated/evolution/v1/live.ts
cargo run --quiet --locked -p tagwire-compiler --features cli --bin tagwire -- gen ts ../fixtures/evolution/v2/live.schema --out generated/evolution/v2 --locked
# The Rust servers the integration tests run against, named by path in
# TAGWIRE_RELAY_SERVER (test/client.test.ts) and TAGWIRE_EVOLUTION_SERVER
# (test/evolution.test.ts).
cargo build --quiet --locked -p tagwire-tests --bin relay-server --bin evolution-server
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')
export TAGWIRE_RELAY_SERVER="$target_dir/debug/relay-server"
export TAGWIRE_EVOLUTION_SERVER="$target_dir/debug/evolution-server"
npm run check
npm test
