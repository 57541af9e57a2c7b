#!/usr/bin/env bash
# The TypeScript half of the codec benchmark: writes the dataset with the Rust
# `dataset` binary, generates traffic.ts with the CLI, compiles it and the
# script with tsc and runs it once. Prints a Markdown section to stdout;
# everything else goes to stderr. `--quick` shortens the measurement.
# Needs cargo, node 20+ and npm.
set -euo pipefail
cd "$(dirname "$0")"
{
  # The runtime is a file: dependency whose prepare step builds it with its
  # own devDependencies, so they come first.
  runtime=../../../runtime/typescript
  if [[ ! -f $runtime/node_modules/.package-lock.json || $runtime/package-lock.json -nt $runtime/node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --prefix "$runtime"
  fi
  # npm ci only when node_modules is missing or older than the lock file.
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund
  fi
  # The runtime is a file: dependency; build its dist/ with this project's tsc.
  npx tsc -p ../../../runtime/typescript
  rm -rf generated
  cargo run --quiet --locked -p tagwire-compiler --features cli --bin tagwire -- gen ts ../schema/traffic.schema --out generated --locked
  cargo run --quiet --locked --release -p tagwire-bench-codecs --bin dataset -- traffic.jsonl
  npx tsc -p .
} >&2
node dist/src/codecs.js traffic.jsonl "$@"
