// The language configuration, with its regular expressions compiled as VS
// Code compiles them (JavaScript RegExp), checked against the layout
// `tagwire fmt` gives the example schemas.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { extensionDir, repoRoot, schemasUnder } from "./support";

interface LanguageConfiguration {
  comments: { lineComment: string };
  brackets: [string, string][];
  autoClosingPairs: { open: string; close: string; notIn?: string[] }[];
  surroundingPairs: [string, string][];
  folding: { markers: { start: string; end: string } };
  wordPattern: string;
  indentationRules: { increaseIndentPattern: string; decreaseIndentPattern: string };
  onEnterRules: { beforeText: string; action: { indent: string; appendText: string } }[];
}

const config = JSON.parse(readFileSync(path.join(extensionDir, "language-configuration.json"), "utf8")) as LanguageConfiguration;
const increase = new RegExp(config.indentationRules.increaseIndentPattern);
const decrease = new RegExp(config.indentationRules.decreaseIndentPattern);

describe("language-configuration.json", () => {
  it("comments with `//`, as the grammar and the compiler do", () => {
    assert.equal(config.comments.lineComment, "//");
  });

  it("pairs every bracket the language has, and closes quotes outside strings and comments", () => {
    assert.deepEqual(config.brackets, [["{", "}"], ["[", "]"], ["<", ">"], ["(", ")"]]);
    for (const pair of config.autoClosingPairs) {
      assert.ok(
        config.brackets.some(([o, c]) => o === pair.open && c === pair.close) || pair.open === '"',
        `auto-closes ${pair.open}${pair.close}, which is no bracket`,
      );
    }
    assert.deepEqual(config.autoClosingPairs.find((p) => p.open === '"')?.notIn, ["string", "comment"]);
  });

  it("indents after an opening bracket and outdents at a closing one, ignoring brackets in comments and strings", () => {
    for (const line of [
      "struct Point {",
      "message RenderUi v2 from server {",
      "message Chat from client @rate(10/s, burst 20) { // why",
      "  tags: [",
      "  scores: map<",
      "  name: string @pattern(",
      '  code: string @pattern("^}$") = "{", other: [',
    ]) {
      assert.match(line, increase, line);
    }
    for (const line of [
      "struct Point { x: f64, y: f64 }",
      "// an open brace {",
      "/// doc with a bracket [",
      '  code: string @pattern("^[a-z{"),',
      "  a: u8, // {",
      "}",
    ]) {
      assert.doesNotMatch(line, increase, line);
    }
    for (const line of ["}", "  }", "  ],", "  >,", ")"]) assert.match(line, decrease, line);
    for (const line of ["  x: u8,", "  // }"]) assert.doesNotMatch(line, decrease, line);
  });

  // scripts/test-all keeps every schema in schemas/ formatted (`tagwire fmt --check`).
  it("reproduces the indentation `tagwire fmt` gives every example schema", () => {
    const schemas = schemasUnder("schemas");
    let lines = 0;
    for (const schema of schemas) {
      const text = readFileSync(path.join(repoRoot, schema), "utf8");
      const unit = "  ";
      let level = 0;
      text.split("\n").forEach((line, i) => {
        if (line.trim() === "") return;
        if (decrease.test(line)) level--;
        assert.equal(line.length - line.trimStart().length, level * unit.length, `${schema}:${i + 1}: ${line}`);
        if (increase.test(line)) level++;
        lines++;
      });
      assert.equal(level, 0, `${schema} ends indented`);
    }
    assert.ok(lines > 200, `only ${lines} lines seen`);
  });

  it("continues a doc comment on Enter, and only a doc comment", () => {
    const [rule] = config.onEnterRules;
    assert.ok(rule);
    const before = new RegExp(rule.beforeText);
    for (const line of ["/// How urgent", "  /// a field", "///"]) assert.match(line, before, line);
    for (const line of ["// plain", "//// plain too", "  x: u8, /// not at the start"]) assert.doesNotMatch(line, before, line);
    assert.equal(rule.action.appendText, "/// ");
  });

  it("takes whole identifiers, constraint names and numbers as words", () => {
    const word = new RegExp(config.wordPattern, "g");
    const words = (s: string): string[] => s.match(word) ?? [];
    assert.deepEqual(words("until_ms: u64? @len(1..=64),"), ["until_ms", "u64", "@len", "1", "64"]);
    assert.deepEqual(words("ratio: f64 @range(-0.5..=1e2)"), ["ratio", "f64", "@range", "-0.5", "1e2"]);
  });

  it("folds between `// region` markers", () => {
    assert.match("  // region handshake", new RegExp(config.folding.markers.start));
    assert.match("// endregion", new RegExp(config.folding.markers.end));
    assert.doesNotMatch("// regional", new RegExp(config.folding.markers.start));
  });
});
