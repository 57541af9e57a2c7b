#!/usr/bin/env bash
# Generates TypeScript for every schema in schemas/, type-checks it with tsc
# (strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess,
# verbatimModuleSyntax, noUnused*) and runs the node:test suites against it.
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
npm run check
npm test
