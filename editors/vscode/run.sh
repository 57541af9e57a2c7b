#!/usr/bin/env bash
# Builds and tests the VS Code extension as CI does: installs its pinned npm
# packages, type-checks under tsc --strict, then `npm test` bundles the client
# with esbuild, packages tagwire.vsix with vsce (offline) and runs the
# node:test suites: the grammar over every schema in the repository (snapshots
# in test/snapshots; UPDATE_SNAPSHOTS=1 npm test rewrites them), the language
# configuration, the settings, the manifest and what the .vsix holds.
# Needs node 20+ and npm.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
npm run check
npm test
