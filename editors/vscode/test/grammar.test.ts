// The TextMate grammar, tokenized by vscode-textmate and Oniguruma exactly as
// VS Code does, over every schema in the repository: one snapshot of scopes
// per file, plus properties a snapshot would let slip (every word scoped,
// keywords and types where the language puts them, doc comments apart from
// plain ones, the compiler's own spelling of keywords and primitives).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as oniguruma from "vscode-oniguruma";
import type { IGrammar } from "vscode-textmate";
import { extensionDir, loadGrammar, onigLib, repoRoot, schemasUnder, tokenize, type Token } from "./support";

const snapshotDir = path.join(extensionDir, "test", "snapshots");
const update = process.env["UPDATE_SNAPSHOTS"] === "1";

/** The compiler's corpus of schemas it must refuse. */
const invalidSchemas = schemasUnder("tests/fixtures/invalid");
/**
 * Every other schema in the repository: the examples in schemas/, the
 * conformance suite, the apps and the compiler's fixtures (the formatter's
 * messy input among them). Not `tagwire new`'s template, whose `{{name}}`
 * placeholders make it a schema only once filled in.
 */
const validSchemas = schemasUnder(".").filter(
  (s) => !invalidSchemas.includes(s) && !s.startsWith("compiler/templates/"),
);
const allSchemas = [...validSchemas, ...invalidSchemas];

/**
 * Where the compiler reports a syntax error in an invalid fixture (E0001 to
 * E0003, from its reviewed snapshot), or `undefined` when the fixture parses
 * and is refused only by later checks.
 */
function syntaxErrorLine(schema: string): number | undefined {
  const snap = path.join(
    repoRoot,
    "compiler/tests/snapshots",
    `invalid_corpus__${path.basename(schema, ".schema")}.snap`,
  );
  if (!schema.startsWith("tests/fixtures/invalid/") || !existsSync(snap)) return undefined;
  const text = readFileSync(snap, "utf8");
  if (!/error\[E000[1-3]\]/.test(text)) return undefined;
  const at = new RegExp(`┌─ ${schema.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:(\\d+):\\d+`).exec(text);
  assert.ok(at?.[1], `${snap} names no position in ${schema}`);
  return Number(at[1]);
}

/** `a a a b` → `a*3 b`: a type nested 200 lists deep stays one readable line. */
function compactScopes(scopes: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < scopes.length; ) {
    let j = i;
    while (j < scopes.length && scopes[j] === scopes[i]) j++;
    out.push(j - i > 1 ? `${scopes[i]}*${j - i}` : (scopes[i] ?? ""));
    i = j;
  }
  return out.join(" ");
}

function renderSnapshot(schema: string, tokens: Token[]): string {
  const lines = [
    `# ${schema}: line:column "token"  scopes (source.tagwire left out; whitespace-only tokens skipped)`,
  ];
  for (const t of tokens) {
    if (t.text.trim() === "") continue;
    lines.push(`${t.line}:${t.column} ${JSON.stringify(t.text)}  ${compactScopes(t.scopes.slice(1))}`);
  }
  return lines.join("\n") + "\n";
}

/** The first line that differs, to say where in a long snapshot things moved. */
function firstDifference(expected: string, actual: string): string {
  const e = expected.split("\n");
  const a = actual.split("\n");
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    if (e[i] !== a[i]) return `snapshot line ${i + 1}:\n  expected: ${e[i] ?? "(none)"}\n  actual:   ${a[i] ?? "(none)"}`;
  }
  return "no line differs";
}

const isWhitespace = (t: Token): boolean => t.text.trim() === "";
const has = (t: Token, prefix: string): boolean => t.scopes.some((s) => s.startsWith(prefix));
const inCommentOrString = (t: Token): boolean => has(t, "comment.") || has(t, "string.");
const show = (schema: string, t: Token): string => `${schema}:${t.line}:${t.column} ${JSON.stringify(t.text)} [${t.scopes.join(" ")}]`;

/** The token that starts at `line`:`column` (1-based). */
function tokenAt(tokens: Token[], line: number, column: number): Token | undefined {
  return tokens.find((t) => t.line === line && t.column === column);
}

/** Each match of `re` (global, with a group named `word`) in each line, as a 1-based position. */
function* matches(text: string, re: RegExp): Generator<{ line: number; column: number; word: string }> {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    for (const m of (lines[i] ?? "").matchAll(re)) {
      const word = m.groups?.["word"];
      if (word === undefined || m.index === undefined) continue;
      yield { line: i + 1, column: m.index + m[0].indexOf(word) + 1, word };
    }
  }
}

let grammar: IGrammar;
const tokensOf = new Map<string, Token[]>();
const sourceOf = new Map<string, string>();

before(async () => {
  grammar = await loadGrammar();
  for (const schema of allSchemas) {
    const text = readFileSync(path.join(repoRoot, schema), "utf8");
    sourceOf.set(schema, text);
    tokensOf.set(schema, tokenize(grammar, text));
  }
});

function tokens(schema: string): Token[] {
  const found = tokensOf.get(schema);
  assert.ok(found, `${schema} was not tokenized`);
  return found;
}
function source(schema: string): string {
  const found = sourceOf.get(schema);
  assert.ok(found !== undefined, `${schema} was not read`);
  return found;
}

describe("the corpus", () => {
  it("covers the example schemas and the compiler's invalid fixtures", () => {
    for (const expected of ["schemas/ui.schema", "conformance/suite/constraints.schema", "compiler/tests/fixtures/fmt/messy.schema"]) {
      assert.ok(validSchemas.includes(expected), `${expected} is not among ${validSchemas.join(", ")}`);
    }
    assert.ok(validSchemas.every((s) => !s.startsWith("editors/")), "a schema of the extension's own?");
    assert.ok(validSchemas.length >= 15, `only ${validSchemas.length} valid schemas`);
    assert.ok(invalidSchemas.length >= 30, `only ${invalidSchemas.length} invalid fixtures`);
  });
});

describe("snapshots of scopes (UPDATE_SNAPSHOTS=1 rewrites them)", () => {
  for (const schema of allSchemas) {
    it(schema, () => {
      const actual = renderSnapshot(schema, tokens(schema));
      const file = path.join(snapshotDir, `${schema}.snap`);
      if (update) {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, actual);
        return;
      }
      assert.ok(
        existsSync(file),
        `no snapshot for ${schema}: run UPDATE_SNAPSHOTS=1 npm test in editors/vscode, review and commit ${path.relative(extensionDir, file)}`,
      );
      const expected = readFileSync(file, "utf8");
      if (expected !== actual) {
        assert.fail(
          `the scopes of ${schema} changed (${firstDifference(expected, actual)}).\n` +
            `If the change is intended, run UPDATE_SNAPSHOTS=1 npm test in editors/vscode and review the diff of ${path.relative(extensionDir, file)}.`,
        );
      }
    });
  }

  it("has no snapshot left over from a schema that is gone", () => {
    const wanted = new Set(allSchemas.map((s) => path.join(snapshotDir, `${s}.snap`)));
    const stale: string[] = [];
    const walk = (dir: string): void => {
      if (!existsSync(dir)) return;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (!wanted.has(p)) stale.push(p);
      }
    };
    walk(snapshotDir);
    if (update) for (const p of stale) rmSync(p);
    else assert.deepEqual(stale, [], "snapshots without a schema: UPDATE_SNAPSHOTS=1 removes them");
  });
});

describe("what the snapshots alone would not catch", () => {
  it("scopes every token of a schema that parses, and marks none of it invalid", () => {
    const parses = allSchemas.filter((s) => syntaxErrorLine(s) === undefined);
    // The syntax-error fixtures are the only ones left out.
    assert.ok(parses.length >= allSchemas.length - 10, `only ${parses.length} schemas parse`);
    for (const schema of parses) {
      for (const t of tokens(schema)) {
        if (isWhitespace(t)) continue;
        assert.ok(t.scopes.length > 1, `bare source.tagwire: ${show(schema, t)}`);
        assert.ok(!has(t, "invalid."), `marked invalid in a schema the compiler parses: ${show(schema, t)}`);
      }
    }
  });

  it("marks what the compiler refuses to parse on the line the compiler names", () => {
    const flagged: string[] = [];
    for (const schema of invalidSchemas) {
      const line = syntaxErrorLine(schema);
      if (line === undefined) continue;
      for (const t of tokens(schema).filter((t) => has(t, "invalid."))) {
        assert.equal(t.line, line, `invalid token away from the compiler's error (line ${line}): ${show(schema, t)}`);
        flagged.push(`${path.basename(schema)} ${t.text}`);
      }
    }
    // A stray character, a block comment, a semicolon between fields.
    for (const expected of ["syntax_bad_token.schema %", "syntax_block_comment.schema /", "syntax_semicolon_separator.schema ;"]) {
      assert.ok(flagged.includes(expected), `${expected} is not marked invalid; marked: ${flagged.join(", ")}`);
    }
  });

  it("scopes declaration keywords as keywords and declared names as types", () => {
    const decl = /^\s*(?<word>package|import|struct|enum|union|message|presence)\s+(?:[A-Za-z_"])/g;
    const named = /\b(?:struct|enum|union|message|presence)\s+(?<word>[A-Za-z_][A-Za-z0-9_]*)/g;
    let count = 0;
    for (const schema of allSchemas) {
      const ts = tokens(schema);
      for (const m of matches(source(schema), decl)) {
        const t = tokenAt(ts, m.line, m.column);
        assert.ok(t && t.text === m.word, `no token ${m.word} at ${schema}:${m.line}:${m.column}`);
        if (inCommentOrString(t)) continue;
        assert.ok(has(t, "keyword.other.") || has(t, "keyword.declaration."), show(schema, t));
        count++;
      }
      for (const m of matches(source(schema), named)) {
        const t = tokenAt(ts, m.line, m.column);
        if (!t || inCommentOrString(t)) continue;
        assert.equal(t.text, m.word, show(schema, t));
        assert.ok(has(t, "entity.name.type."), show(schema, t));
      }
    }
    assert.ok(count > 100, `only ${count} declarations seen`);
  });

  it("scopes directions, field names, primitive and declared types where a field's type goes", () => {
    const primitives = new Set(compilerPrimitives());
    const field = /(?<word>[A-Za-z_][A-Za-z0-9_]*)\s*:/g;
    // A word right after `:`, `[`, `<` or a map's `,`: a type, unless `check` refuses it.
    const typeRef = /[:[<]\s*(?<word>[A-Za-z_][A-Za-z0-9_]*)/g;
    const direction = /\bfrom\s+(?<word>server|client)\b/g;
    let types = 0;
    for (const schema of validSchemas) {
      const ts = tokens(schema);
      for (const m of matches(source(schema), direction)) {
        const t = tokenAt(ts, m.line, m.column);
        if (!t || inCommentOrString(t)) continue;
        assert.ok(has(t, "keyword.other.direction."), show(schema, t));
      }
      for (const m of matches(source(schema), field)) {
        const t = tokenAt(ts, m.line, m.column);
        if (!t || inCommentOrString(t)) continue;
        assert.ok(has(t, "variable.other.property."), show(schema, t));
      }
      for (const m of matches(source(schema), typeRef)) {
        const t = tokenAt(ts, m.line, m.column);
        if (!t || inCommentOrString(t) || has(t, "meta.annotation.")) continue;
        if (primitives.has(m.word)) assert.ok(has(t, "support.type.primitive."), show(schema, t));
        else if (m.word === "map") assert.ok(has(t, "support.type.map."), show(schema, t));
        else assert.ok(has(t, "entity.name.type."), show(schema, t));
        types++;
      }
    }
    assert.ok(types > 100, `only ${types} types seen`);
  });

  it("tells doc comments from plain ones, and ends every string on its line", () => {
    let docs = 0;
    for (const schema of allSchemas) {
      const ts = tokens(schema);
      for (const m of matches(source(schema), /^\s*(?<word>\/\/+)/g)) {
        const t = tokenAt(ts, m.line, m.column);
        assert.ok(t, `no token at ${schema}:${m.line}:${m.column}`);
        if (m.word === "///") {
          assert.ok(has(t, "comment.line.documentation."), show(schema, t));
          docs++;
        } else {
          assert.ok(has(t, "comment.line.double-slash.") && !has(t, "comment.line.documentation."), show(schema, t));
        }
        // The comment runs to the end of the line.
        assert.ok(ts.filter((u) => u.line === m.line && u.column >= m.column).every((u) => has(u, "comment.")), show(schema, t));
      }
      // An unterminated string must not swallow the lines after it.
      for (const t of ts) {
        if (t.column === 1 && has(t, "string.")) assert.ok(t.text.startsWith('"'), show(schema, t));
      }
    }
    assert.ok(docs > 30, `only ${docs} doc comments seen`);
  });

  it("recovers after a syntax error at the next declaration", () => {
    const ts = tokens("tests/fixtures/invalid/syntax_unterminated_string.schema");
    const struct = ts.find((t) => t.text === "struct");
    assert.ok(struct && has(struct, "keyword.declaration.struct."), struct && show("syntax_unterminated_string", struct));
    const semicolon = tokens("tests/fixtures/invalid/syntax_semicolon_separator.schema").find((t) => t.text === "y");
    assert.ok(semicolon && has(semicolon, "variable.other.property."), "the field after a stray `;` is still a field");
  });
});

describe("the grammar against the compiler's own vocabulary", () => {
  it("highlights every keyword of compiler/src/syntax/schema.pest, and no other", async () => {
    const pest = readFileSync(path.join(repoRoot, "compiler/src/syntax/schema.pest"), "utf8");
    const keywords = [...pest.matchAll(/^kw_\w+\s*=\s*@\{\s*"([^"]+)"/gm)].map((m) => m[1]).sort();
    // Each keyword in a place the language puts it, and the token that must carry the scope.
    const samples: Record<string, { source: string; token: string; scope: string }> = {
      package: { source: "package p;", token: "package", scope: "keyword.other.package." },
      import: { source: 'import "a.schema";', token: "import", scope: "keyword.other.import." },
      struct: { source: "struct S {}", token: "struct", scope: "keyword.declaration.struct." },
      enum: { source: "enum E { a }", token: "enum", scope: "keyword.declaration.enum." },
      union: { source: "union U { a }", token: "union", scope: "keyword.declaration.union." },
      message: { source: "message M {}", token: "message", scope: "keyword.declaration.message." },
      presence: { source: "presence P { x: f32 }", token: "presence", scope: "keyword.declaration.presence." },
      from: { source: "message M from server {}", token: "from", scope: "keyword.other.from." },
      server: { source: "message M from server {}", token: "server", scope: "keyword.other.direction." },
      client: { source: "message M from client {}", token: "client", scope: "keyword.other.direction." },
      map: { source: "struct S { m: map<string, u8> }", token: "map", scope: "support.type.map." },
      "@rate": { source: "message M from client @rate(1/s) {}", token: "rate", scope: "storage.type.annotation.rate." },
      burst: { source: "message M from client @rate(1/s, burst 2) {}", token: "burst", scope: "keyword.other.burst." },
    };
    assert.deepEqual(Object.keys(samples).sort(), keywords, "schema.pest's keywords changed: teach the grammar and this table");
    for (const [keyword, sample] of Object.entries(samples)) {
      const t = tokenize(grammar, sample.source).find((u) => u.text === sample.token);
      assert.ok(t && has(t, sample.scope), `${keyword} in ${JSON.stringify(sample.source)}: ${t ? t.scopes.join(" ") : "no token"}`);
    }
  });

  it("knows exactly the primitive types of compiler/src/ir.rs (PRIMITIVES)", () => {
    const grammarJson = readFileSync(path.join(extensionDir, "syntaxes/tagwire.tmLanguage.json"), "utf8");
    const rule = /"name": "support\.type\.primitive\.tagwire",\s*"match": "\\\\b\(\?:([a-z0-9|]+)\)\\\\b"/.exec(grammarJson);
    assert.ok(rule?.[1], "the grammar's primitive rule is not where this test looks");
    assert.deepEqual(rule[1].split("|").sort(), [...compilerPrimitives()].sort());
    for (const primitive of compilerPrimitives()) {
      const t = tokenize(grammar, `struct S { f: [${primitive}?] }`).find((u) => u.text === primitive);
      assert.ok(t && has(t, "support.type.primitive."), primitive);
    }
  });
});

describe("the grammar file", () => {
  const raw = JSON.parse(readFileSync(path.join(extensionDir, "syntaxes/tagwire.tmLanguage.json"), "utf8")) as GrammarRule & {
    repository: Record<string, GrammarRule>;
  };

  it("compiles every regular expression with Oniguruma, used or not", async () => {
    await onigLib();
    let count = 0;
    visit(raw, (rule, where) => {
      for (const key of ["match", "begin", "end"] as const) {
        const re = rule[key];
        if (re === undefined) continue;
        assert.doesNotThrow(() => new oniguruma.OnigScanner([re]).dispose(), `${where}.${key}: ${re}`);
        count++;
      }
    });
    assert.ok(count > 30, `only ${count} expressions`);
  });

  it("includes only rules that exist, and uses every rule it has", () => {
    const used = new Set<string>();
    visit(raw, (rule, where) => {
      if (rule.include === undefined) return;
      assert.match(rule.include, /^#/, `${where} includes another grammar`);
      const name = rule.include.slice(1);
      assert.ok(name in raw.repository, `${where} includes #${name}, which does not exist`);
      used.add(name);
    });
    assert.deepEqual(Object.keys(raw.repository).filter((k) => !used.has(k)), [], "rules nothing includes");
  });
});

interface GrammarRule {
  include?: string;
  match?: string;
  begin?: string;
  end?: string;
  patterns?: GrammarRule[];
  repository?: Record<string, GrammarRule>;
}

function visit(rule: GrammarRule, fn: (rule: GrammarRule, where: string) => void, where = "grammar"): void {
  fn(rule, where);
  rule.patterns?.forEach((p, i) => visit(p, fn, `${where}.patterns[${i}]`));
  for (const [name, r] of Object.entries(rule.repository ?? {})) visit(r, fn, `#${name}`);
}

/** The primitive type names as the compiler spells them: its PRIMITIVES table. */
function compilerPrimitives(): string[] {
  const ir = readFileSync(path.join(repoRoot, "compiler/src/ir.rs"), "utf8");
  const table = /const PRIMITIVES[^=]*=\s*\[([\s\S]*?)\];/.exec(ir);
  assert.ok(table?.[1], "PRIMITIVES is not in compiler/src/ir.rs any more");
  const names = [...table[1].matchAll(/\("([a-z0-9]+)",/g)].map((m) => m[1] ?? "");
  assert.ok(names.length >= 10, `PRIMITIVES looks wrong: ${names.join(", ")}`);
  return names;
}
