#!/usr/bin/env bash
# The browser tests, in headless Chromium driven by playwright-core:
#   conformance.test.mjs  the conformance suite through the generated TypeScript in a page
#   demo.test.mjs         two pages of the demo talk; a deploy moves every page to the new server
#   sse.test.mjs          WebSockets refused by a proxy: the page falls back to SSE
#   inspector.test.mjs    the live inspector page of a relay server shows a browser client's frames
#   presence.test.mjs     two pages see each other's cursors through presence; a closed page's goes after the linger
#   evolution.test.mjs    last week's page (demo/web-v1, at /v1/) beside the current one on a
#                         server from today's schema, through a deploy (docs/EVOLUTION.md)
# Installs Debian's chromium and its emoji font when missing (as root), builds the demo,
# its two pages and the conformance page, then runs the node:test files. The
# screenshots taken during a deploy go to target/browser-artifacts/: deploy.png
# (one page) and evolution-deploy.png (the old and the new page side by side).
# Needs cargo, node 20+ and npm.
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"
step() { printf '==> %s\n' "$*" >&2; }

# Chromium, and (nice to have) an emoji font so that the screenshots show the
# demo's reaction buttons rather than empty boxes.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    step "installing Debian's ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif [ ! -x /usr/bin/chromium ]; then
    echo "error: /usr/bin/chromium is missing and only root can install it:" >&2
    echo "       sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  else
    echo "note: no emoji font (sudo apt-get install fonts-noto-color-emoji): screenshots show boxes for emoji" >&2
  fi
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
(cd "$root" && cargo build --locked --quiet -p tagwire-compiler -p tagwire-demo --features tagwire-compiler/cli --bin tagwire --bin tagwire-demo)
target="$(cd "$root" && cargo metadata --format-version 1 --no-deps --locked |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')"
(cd "$root" && cargo build --locked --quiet -p tagwire-tests --bin inspector-server)
export INSPECTOR_BIN="$target/debug/inspector-server"
export TAGWIRE_BIN="$target/debug/tagwire"
export DEMO_BIN="$target/debug/tagwire-demo"

step "the demo's pages and the conformance page (tagwire gen ts, tsc strict)"
"$TAGWIRE_BIN" gen ts "$root/demo/schema/board.schema" --out "$root/demo/web/src/gen" --locked >&2
"$tsc" -p "$root/demo/web"
# The v1 page is frozen, its generated protocol included (demo/web-v1/README.md): compiled, never regenerated.
"$tsc" -p "$root/demo/web-v1"
rm -rf build pages/src/gen
"$TAGWIRE_BIN" gen ts "$root/conformance/suite/conformance.schema" --out pages/src/gen --locked >&2
"$tsc" -p pages

export BROWSER_ARTIFACTS="$root/target/browser-artifacts"
rm -f "$BROWSER_ARTIFACTS/deploy.png" "$BROWSER_ARTIFACTS/evolution-deploy.png" "$BROWSER_ARTIFACTS/inspector.png"
step "node --test (headless Chromium: $(/usr/bin/chromium --version 2>/dev/null))"
npm test
test -s "$BROWSER_ARTIFACTS/deploy.png"
test -s "$BROWSER_ARTIFACTS/evolution-deploy.png"
test -s "$BROWSER_ARTIFACTS/inspector.png"
echo "screenshot of the demo during a deploy: $BROWSER_ARTIFACTS/deploy.png" >&2
echo "the old and the new page during a deploy: $BROWSER_ARTIFACTS/evolution-deploy.png" >&2
