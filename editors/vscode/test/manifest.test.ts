// The extension's manifest against the code and files it names: the settings
// the client reads, the command it registers, the grammar and configuration
// it points at, the VS Code it may run in.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_SERVER_PATH, LANGUAGE_ID, RESTART_COMMAND, SECTION, SETTINGS } from "../src/config";
import { extensionDir, rawGrammar, repoRoot } from "./support";

interface Manifest {
  name: string;
  publisher: string;
  version: string;
  license: string;
  repository: { url: string; directory: string };
  engines: { vscode: string };
  main: string;
  files: string[];
  scripts: Record<string, string>;
  contributes: {
    languages: { id: string; extensions: string[]; configuration: string }[];
    grammars: { language: string; scopeName: string; path: string }[];
    commands: { command: string; title: string; category: string }[];
    configuration: { properties: Record<string, { type: string; default: unknown; enum?: string[] }> };
  };
  devDependencies: Record<string, string>;
}

const read = (file: string): string => readFileSync(path.join(extensionDir, file), "utf8");
const manifest = JSON.parse(read("package.json")) as Manifest;

describe("package.json", () => {
  it("declares the settings the client reads, with the defaults it assumes", () => {
    const properties = manifest.contributes.configuration.properties;
    assert.deepEqual(Object.keys(properties).sort(), Object.values(SETTINGS).map((s) => `${SECTION}.${s}`).sort());
    assert.equal(properties[`${SECTION}.${SETTINGS.serverPath}`]?.default, DEFAULT_SERVER_PATH);
    assert.deepEqual(properties[`${SECTION}.${SETTINGS.extraArgs}`]?.default, []);
    // The values vscode-languageclient understands for `<id>.trace.server`.
    assert.deepEqual(properties[`${SECTION}.${SETTINGS.trace}`]?.enum, ["off", "messages", "verbose"]);
  });

  it("declares the restart command under the Tagwire category", () => {
    assert.deepEqual(manifest.contributes.commands, [
      { command: RESTART_COMMAND, title: "Restart Language Server", category: "Tagwire" },
    ]);
  });

  it("gives .schema files the language id the client selects, with the grammar and configuration that exist", () => {
    const [language] = manifest.contributes.languages;
    assert.ok(language);
    assert.equal(language.id, LANGUAGE_ID);
    assert.deepEqual(language.extensions, [".schema"]);
    assert.ok(existsSync(path.join(extensionDir, language.configuration)), language.configuration);
    const [grammar] = manifest.contributes.grammars;
    assert.ok(grammar);
    assert.equal(grammar.language, LANGUAGE_ID);
    assert.equal(grammar.scopeName, rawGrammar().scopeName);
    assert.ok(existsSync(path.join(extensionDir, grammar.path)), grammar.path);
  });

  it("needs no newer VS Code than its typings describe, nor older than its language client needs", () => {
    const types = manifest.devDependencies["@types/vscode"];
    assert.ok(types);
    assert.equal(manifest.engines.vscode, `^${types}`, "engines.vscode and @types/vscode must move together (vsce refuses otherwise)");
    const client = JSON.parse(read("node_modules/vscode-languageclient/package.json")) as { engines: { vscode: string } };
    const version = (range: string): number[] => range.replace(/^\^/, "").split(".").map(Number);
    const [ours, needed] = [version(manifest.engines.vscode), version(client.engines.vscode)];
    assert.ok(ours[0] === needed[0] && (ours[1] ?? 0) >= (needed[1] ?? 0), `${manifest.engines.vscode} < ${client.engines.vscode}`);
  });

  it("pins every dependency to one version, and bundles the client where main points", () => {
    for (const [name, version] of Object.entries(manifest.devDependencies)) {
      assert.match(version, /^\d+\.\d+\.\d+$/, `${name}@${version}`);
    }
    assert.equal(manifest.main, "./dist/extension.js");
    assert.match(manifest.scripts["bundle"] ?? "", / --outfile=dist\/extension\.js$/);
    assert.ok(manifest.files.includes("dist/extension.js"));
  });

  it("carries the repository's licenses, word for word", () => {
    assert.equal(manifest.license, "MIT OR Apache-2.0");
    for (const file of ["LICENSE-MIT", "LICENSE-APACHE"]) {
      assert.equal(read(file), readFileSync(path.join(repoRoot, file), "utf8"), `${file} differs from the repository's`);
    }
  });
});
