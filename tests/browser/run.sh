#!/usr/bin/env bash
# The browser tests (issue 7), in headless Chromium driven by playwright-core:
#   conformance.test.mjs  the conformance suite through the generated TypeScript in a page
#   demo.test.mjs         two pages of the demo talk; a deploy moves every page to the new server
#   sse.test.mjs          WebSockets refused by a proxy: the page falls back to SSE
# Installs Debian's chromium when it is missing (as root), builds the demo,
# its page and the conformance page, then runs the node:test files. The
# screenshot taken during a deploy goes to target/browser-artifacts/deploy.png.
# Needs cargo, node 20+ and npm.
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"
step() { printf '==> %s\n' "$*" >&2; }

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: /usr/bin/chromium is missing and only root can install it:" >&2
    echo "       sudo apt-get install -y --no-install-recommends chromium" >&2
    exit 1
  fi
  step "installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

step "npm ci (tests/browser: playwright-core)"
npm ci --no-audit --no-fund

step "the tagwire npm package (runtime/typescript)"
if [ ! -f "$root/runtime/typescript/node_modules/.package-lock.json" ] ||
   [ "$root/runtime/typescript/package-lock.json" -nt "$root/runtime/typescript/node_modules/.package-lock.json" ]; then
  (cd "$root/runtime/typescript" && npm ci --no-audit --no-fund)
fi
tsc="$root/runtime/typescript/node_modules/.bin/tsc"
"$tsc" -p "$root/runtime/typescript"

step "cargo build: the tagwire CLI and the demo"
# Name both binaries: `--bin` filters every package given with `-p`.
(cd "$root" && cargo build --locked --quiet -p tagwire-compiler -p tagwire-demo --bin tagwire --bin tagwire-demo)
target="$(cd "$root" && cargo metadata --format-version 1 --no-deps --locked |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')"
export TAGWIRE_BIN="$target/debug/tagwire"
export DEMO_BIN="$target/debug/tagwire-demo"

step "the demo's page and the conformance page (tagwire gen ts, tsc strict)"
"$TAGWIRE_BIN" gen ts "$root/demo/schema/board.schema" --out "$root/demo/web/src/gen" --locked >&2
"$tsc" -p "$root/demo/web"
rm -rf build pages/src/gen
"$TAGWIRE_BIN" gen ts "$root/conformance/suite/conformance.schema" --out pages/src/gen --locked >&2
"$tsc" -p pages

export BROWSER_ARTIFACTS="$root/target/browser-artifacts"
rm -f "$BROWSER_ARTIFACTS/deploy.png"
step "node --test (headless Chromium: $(/usr/bin/chromium --version 2>/dev/null))"
npm test
test -s "$BROWSER_ARTIFACTS/deploy.png"
echo "screenshot of the demo during a deploy: $BROWSER_ARTIFACTS/deploy.png" >&2
