// What the tests share: where things are, the repository's schemas, and
// tokenizing schema text with the grammar the extension ships, through the
// engine VS Code itself uses (vscode-textmate over the Oniguruma regex
// library compiled to WebAssembly).
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import * as oniguruma from "vscode-oniguruma";
import * as textmate from "vscode-textmate";

/** The extension's folder (this file runs from `out/test/`). */
export const extensionDir = path.resolve(__dirname, "..", "..");
/** The repository's root, where `schemas/` and `tests/fixtures/` live. */
export const repoRoot = path.resolve(extensionDir, "..", "..");
export const grammarPath = path.join(extensionDir, "syntaxes", "tagwire.tmLanguage.json");
export const scopeName = "source.tagwire";

/** Folders that hold build output or installed packages, never a schema of ours. */
const skipped = (name: string): boolean =>
  name === ".git" || name === "node_modules" || name === "target" || name.startsWith("target-");

/** Every `.schema` under `dir` (relative to the repository; `.` for all of it), as sorted repository paths. */
export function schemasUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(repoRoot, rel), { withFileTypes: true })) {
      const child = rel === "." ? entry.name : path.posix.join(rel, entry.name);
      if (entry.isDirectory()) {
        if (!skipped(entry.name)) walk(child);
      } else if (entry.name.endsWith(".schema")) found.push(child);
    }
  };
  walk(dir);
  return found.sort();
}

export interface Token {
  /** 1-based, as editors count. */
  line: number;
  /** 1-based, in UTF-16 code units, as VS Code counts columns. */
  column: number;
  text: string;
  /** Outermost first; the first is always `source.tagwire`. */
  scopes: string[];
}

let onigLoaded: Promise<textmate.IOnigLib> | undefined;

/** Oniguruma, loaded once per process (the wasm is the one VS Code ships). */
export function onigLib(): Promise<textmate.IOnigLib> {
  onigLoaded ??= (async () => {
    const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    return {
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    };
  })();
  return onigLoaded;
}

export function rawGrammar(): textmate.IRawGrammar {
  return textmate.parseRawGrammar(readFileSync(grammarPath, "utf8"), grammarPath);
}

/** A fresh registry and grammar, as VS Code loads it from the manifest. */
export async function loadGrammar(): Promise<textmate.IGrammar> {
  const registry = new textmate.Registry({
    onigLib: onigLib(),
    loadGrammar: async (name) => (name === scopeName ? rawGrammar() : null),
  });
  const grammar = await registry.loadGrammar(scopeName);
  if (grammar === null) throw new Error(`the registry did not load ${scopeName}`);
  return grammar;
}

/** Every token of `text`, line by line, carrying the state across lines as an editor does. */
export function tokenize(grammar: textmate.IGrammar, text: string): Token[] {
  const tokens: Token[] = [];
  let state: textmate.StateStack = textmate.INITIAL;
  // A schema may use CRLF line ends; VS Code hands the tokenizer lines without them.
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  lines.forEach((lineText, index) => {
    // A time limit makes a runaway pattern a failure instead of a hang.
    const result = grammar.tokenizeLine(lineText, state, 5_000);
    if (result.stoppedEarly) throw new Error(`tokenizing line ${index + 1} took over 5 s`);
    for (const token of result.tokens) {
      const tokenText = lineText.slice(token.startIndex, token.endIndex);
      if (tokenText === "") continue;
      tokens.push({ line: index + 1, column: token.startIndex + 1, text: tokenText, scopes: token.scopes });
    }
    state = result.ruleStack;
  });
  return tokens;
}
