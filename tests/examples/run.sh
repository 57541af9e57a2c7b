#!/usr/bin/env bash
# Builds every example in examples/ and an app made by `tagwire new`, and runs
# them for real (loopback sockets, headless Chromium):
#   - the Rust client (examples/rust-client) says a line to the chat server and hears it back;
#   - the derive example (examples/derive) runs to completion;
#   - the chat page (examples/chat/web, bundled by esbuild) chats in Chromium;
#   - `tagwire new --tagwire-path <this checkout>` in a temporary folder: built with cargo and
#     npm as its README says, its server started, its page chatting in Chromium.
# Uses tests/browser's playwright-core and Debian's chromium (tests/browser/run.sh installs it).
# Needs cargo, node 20+ and npm (the examples' pages install esbuild and typescript from npm).
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"
step() { printf '==> %s\n' "$*" >&2; }
start=$SECONDS

if [ ! -x /usr/bin/chromium ]; then
  echo "error: /usr/bin/chromium is missing: tests/browser/run.sh installs it (as root)" >&2
  exit 1
fi
fresh() { [ -f "$1/node_modules/.package-lock.json" ] && [ ! "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; }

step "playwright-core (tests/browser's)"
fresh ../browser || (cd ../browser && npm ci --no-audit --no-fund)

# The runtime's dist/ is git-ignored. Its `prepare` script builds it on
# `npm ci` and on folder installs; building it here as well keeps it in step
# with the sources when node_modules was already fresh.
step "the tagwire npm package (runtime/typescript): npm run build"
fresh "$root/runtime/typescript" || (cd "$root/runtime/typescript" && npm ci --no-audit --no-fund)
npm --prefix "$root/runtime/typescript" run --silent build

step "cargo build: the tagwire CLI and the examples"
# Name every binary: `--bin` filters every package given with `-p`. The CLI
# is the compiler's `cli` feature, off by default so build scripts stay lean.
(cd "$root" && cargo build --locked --quiet -p tagwire-compiler -p example-chat -p example-rust-client -p example-derive \
  --features tagwire-compiler/cli \
  --bin tagwire --bin example-chat --bin example-rust-client --bin example-derive)
target="$(cd "$root" && cargo metadata --format-version 1 --no-deps --locked |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')"
tagwire="$target/debug/tagwire"
"$tagwire" check "$root/examples/chat/schema/chat.schema"
"$tagwire" fmt --check "$root/examples/chat/schema/chat.schema"

# esbuild's and tsc's output is checked for warnings: the build must be silent.
page() {
  local log
  log="$(npm --prefix "$1" run --silent build 2>&1)" || { echo "$log" >&2; return 1; }
  if grep -Eiq 'warn|error' <<<"$log"; then echo "$log" >&2; echo "error: the page's build in $1 warned" >&2; return 1; fi
}

step "the chat page: tagwire gen ts, npm ci, tsc (strict) and esbuild"
"$tagwire" gen ts "$root/examples/chat/schema/chat.schema" --out "$root/examples/chat/web/src/gen" --locked 2>/dev/null
fresh "$root/examples/chat/web" || npm --prefix "$root/examples/chat/web" ci --no-audit --no-fund
page "$root/examples/chat/web"

step "tagwire new --tagwire-path $root, in a temporary folder"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
app="$tmp/hello-app"
"$tagwire" new "$app" --tagwire-path "$root" 2>"$tmp/new.log" || { cat "$tmp/new.log" >&2; exit 1; }
# The workspace's lock pins the same dependency versions, and the workspace's
# target directory and profile settings let cargo reuse what the examples
# built: only the app itself is compiled. (A user's first build resolves anew.)
cp "$root/Cargo.lock" "$app/Cargo.lock"
# TAGWIRE_LOCKED: the lock `tagwire new` wrote must be the one the build script wants.
(cd "$app" && TAGWIRE_LOCKED=1 CARGO_TARGET_DIR="$target" cargo build --quiet \
  --config 'profile.dev.debug="line-tables-only"' --config 'profile.dev.package."*".debug=false' 2>"$tmp/cargo.log") ||
  { cat "$tmp/cargo.log" >&2; exit 1; }
if grep -q '^warning' "$tmp/cargo.log"; then cat "$tmp/cargo.log" >&2; echo "error: the new app's build warned" >&2; exit 1; fi
npm --prefix "$app/web" install --no-audit --no-fund --prefer-offline --loglevel=error
page "$app/web"

step "node --test (the examples on loopback, the pages in headless Chromium)"
CHAT_BIN="$target/debug/example-chat" RUST_CLIENT_BIN="$target/debug/example-rust-client" \
  DERIVE_BIN="$target/debug/example-derive" NEW_APP_BIN="$target/debug/hello-app" \
  node --test --test-concurrency=1 --test-timeout=60000 examples.test.mjs
echo "examples: done in $((SECONDS - start)) s" >&2
