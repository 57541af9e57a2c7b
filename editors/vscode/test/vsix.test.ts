// The package `vsce package` wrote (npm test builds it first): exactly the
// files the extension needs, byte for byte what the other tests checked,
// and a client bundle that needs nothing but Node and VS Code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as yauzl from "yauzl";
import { extensionDir } from "./support";

const vsixPath = path.join(extensionDir, "tagwire.vsix");

/** Every file in a zip, by name. */
function unzip(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const files = new Map<string, Buffer>();
      zip.on("error", reject);
      zip.on("end", () => resolve(files));
      zip.on("entry", (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith("/")) return zip.readEntry();
        zip.openReadStream(entry, (streamErr, stream) => {
          if (streamErr) return reject(streamErr);
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("error", reject);
          stream.on("end", () => {
            files.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

let files: Map<string, Buffer>;
const entry = (name: string): Buffer => {
  const found = files.get(name);
  assert.ok(found, `${name} is not in the package; it has ${[...files.keys()].join(", ")}`);
  return found;
};

before(async () => {
  files = await unzip(vsixPath);
});

describe("tagwire.vsix", () => {
  it("holds exactly the manifest, grammar, language configuration, bundled client, readme and licenses", () => {
    assert.deepEqual([...files.keys()].sort(), [
      "[Content_Types].xml",
      "extension.vsixmanifest",
      "extension/LICENSE-APACHE",
      "extension/LICENSE-MIT",
      "extension/LICENSE.txt",
      "extension/dist/extension.js",
      "extension/language-configuration.json",
      "extension/package.json",
      "extension/readme.md",
      "extension/syntaxes/tagwire.tmLanguage.json",
    ]);
    assert.ok(![...files.keys()].some((name) => name.includes("node_modules")));
  });

  it("packs the files in this folder as they are", () => {
    for (const [packed, local] of [
      ["extension/syntaxes/tagwire.tmLanguage.json", "syntaxes/tagwire.tmLanguage.json"],
      ["extension/language-configuration.json", "language-configuration.json"],
      ["extension/dist/extension.js", "dist/extension.js"],
      ["extension/readme.md", "README.md"],
      ["extension/LICENSE.txt", "LICENSE"],
    ] as const) {
      assert.ok(entry(packed).equals(readFileSync(path.join(extensionDir, local))), `${packed} differs from ${local}`);
    }
    const manifest = JSON.parse(entry("extension/package.json").toString("utf8")) as Record<string, unknown>;
    const ours = JSON.parse(readFileSync(path.join(extensionDir, "package.json"), "utf8")) as Record<string, unknown>;
    for (const key of ["name", "publisher", "version", "engines", "main", "contributes"]) {
      assert.deepEqual(manifest[key], ours[key], key);
    }
  });

  it("names the extension and the VS Code it needs in the marketplace manifest", () => {
    const xml = entry("extension.vsixmanifest").toString("utf8");
    assert.match(xml, /<Identity Language="en-US" Id="tagwire" Version="0\.1\.0" Publisher="tagwire"/);
    assert.match(xml, /Id="Microsoft\.VisualStudio\.Code\.Engine" Value="\^1\.91\.0"/);
    assert.match(xml, /<License>extension\/LICENSE\.txt<\/License>/);
  });

  it("bundles a client that requires only Node's modules and vscode", () => {
    const bundle = entry("extension/dist/extension.js").toString("utf8");
    const required = new Set([...bundle.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1] ?? ""));
    assert.ok(required.has("vscode") && required.has("child_process"), [...required].join(", "));
    const builtins = new Set(builtinModules);
    const foreign = [...required].filter((m) => m !== "vscode" && !builtins.has(m.replace(/^node:/, "")));
    assert.deepEqual(foreign, [], "the bundle requires modules the package does not ship");
    // The client is in it: the command line it starts and the LSP client it starts it with.
    assert.ok(bundle.includes('"tagwire.restartServer"') && bundle.includes('"lsp"'));
    assert.ok(bundle.includes("textDocument/didOpen"), "vscode-languageclient is not bundled");
  });
});
