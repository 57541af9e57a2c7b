// How settings become the `tagwire lsp` command line, and how the extension
// finds the program before it starts it (real files, real permissions).
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { DEFAULT_SERVER_PATH, SettingError, findExecutable, serverLaunch } from "../src/config";

const context = { workspaceFolder: "/work/app", home: "/home/ada" };

describe("serverLaunch", () => {
  it("runs `tagwire lsp` from PATH when nothing is set", () => {
    assert.equal(DEFAULT_SERVER_PATH, "tagwire");
    for (const unset of [undefined, null, "", "   "]) {
      assert.deepEqual(serverLaunch(unset, undefined, context), { command: "tagwire", args: ["lsp"] });
    }
  });

  it("puts the extra arguments after `lsp`", () => {
    assert.deepEqual(serverLaunch("tagwire", ["--log", "debug"], context), {
      command: "tagwire",
      args: ["lsp", "--log", "debug"],
    });
  });

  it("expands the home folder and the workspace folder", () => {
    assert.equal(serverLaunch("~/.cargo/bin/tagwire", [], context).command, "/home/ada/.cargo/bin/tagwire");
    assert.equal(serverLaunch("${userHome}/bin/tagwire", [], context).command, "/home/ada/bin/tagwire");
    assert.equal(
      serverLaunch("${workspaceFolder}/target/debug/tagwire", [], context).command,
      "/work/app/target/debug/tagwire",
    );
    // A tilde that does not start a home path is a file name character.
    assert.equal(serverLaunch("/opt/~x/tagwire", [], context).command, "/opt/~x/tagwire");
  });

  it("takes a relative path from the workspace folder", () => {
    assert.equal(serverLaunch("./target/debug/tagwire", [], context).command, "/work/app/target/debug/tagwire");
    assert.equal(serverLaunch("target/release/tagwire", [], context).command, "/work/app/target/release/tagwire");
  });

  it("says which setting is wrong instead of starting something else", () => {
    const noFolder = { workspaceFolder: undefined, home: "/home/ada" };
    const cases: [unknown, unknown, typeof context | typeof noFolder, RegExp][] = [
      [42, [], context, /tagwire\.server\.path must be a string, not 42/],
      ["tagwire", "--verbose", context, /tagwire\.server\.extraArgs must be a list of strings, not "--verbose"/],
      ["tagwire", ["--a", 1], context, /tagwire\.server\.extraArgs must be a list of strings; 1 is not one/],
      ["${workspaceFolder}/tagwire", [], noFolder, /uses \$\{workspaceFolder\}, but no folder is open/],
      ["./tagwire", [], noFolder, /is the relative path \.\/tagwire, but no folder is open/],
    ];
    for (const [serverPath, extraArgs, ctx, message] of cases) {
      assert.throws(() => serverLaunch(serverPath, extraArgs, ctx), (e: unknown) => e instanceof SettingError && message.test(e.message));
    }
  });
});

describe("findExecutable", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tagwire-vscode-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, "bin");
  const other = path.join(dir, "other");
  mkdirSync(bin);
  mkdirSync(other);
  mkdirSync(path.join(bin, "a-directory"));
  writeFileSync(path.join(bin, "tagwire"), "#!/bin/sh\nexit 0\n");
  chmodSync(path.join(bin, "tagwire"), 0o755);
  writeFileSync(path.join(other, "tagwire"), "not executable");
  chmodSync(path.join(other, "tagwire"), 0o644);
  writeFileSync(path.join(other, "tagwire.CMD"), "@echo off\r\n");

  it("finds a name on PATH as a shell does, skipping files it cannot run", () => {
    assert.equal(findExecutable("tagwire", { PATH: `/nonexistent:${other}:${bin}` }, "linux"), path.join(bin, "tagwire"));
    assert.equal(findExecutable("tagwire", { PATH: other }, "linux"), undefined);
    assert.equal(findExecutable("a-directory", { PATH: bin }, "linux"), undefined);
    assert.equal(findExecutable("tagwire", { PATH: "" }, "linux"), undefined);
    assert.equal(findExecutable("tagwire", {}, "linux"), undefined);
  });

  it("checks a path as it is", () => {
    assert.equal(findExecutable(path.join(bin, "tagwire"), { PATH: "" }, "linux"), path.join(bin, "tagwire"));
    assert.equal(findExecutable(path.join(other, "tagwire"), { PATH: bin }, "linux"), undefined);
    assert.equal(findExecutable(path.join(bin, "missing"), { PATH: bin }, "linux"), undefined);
  });

  it("on Windows, tries PATHEXT's extensions and splits PATH on `;`", () => {
    assert.equal(
      findExecutable("tagwire", { PATH: `${path.join(dir, "none")};${other}`, PATHEXT: ".EXE;.CMD" }, "win32"),
      // Not the extensionless file beside it: Windows cannot run that.
      path.join(other, "tagwire.CMD"),
    );
    assert.equal(
      findExecutable(path.join(other, "tagwire.CMD"), { PATHEXT: ".EXE" }, "win32"),
      path.join(other, "tagwire.CMD"),
    );
  });
});
