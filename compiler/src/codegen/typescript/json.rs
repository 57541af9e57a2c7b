//! `toJsonX` / `fromJsonX`: SPEC §8's canonical JSON mapping.
//!
//! `toJsonX` returns a JSON-ready value (`JSON.stringify` it); `fromJsonX`
//! takes what `JSON.parse` returns and checks it strictly, throwing an
//! `Error` that names the JSON path (`$.shapes[2].circle.radius`). The
//! helpers they share are module-private `$` functions, emitted only when
//! used.

use super::{Code, Gen, json_string, object_literal, return_fields};
use crate::ir::{Field, Type, UnionVariant};

/// `(name, helpers it calls, runtime exports it uses, code)`, in output order.
type Helper = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
);

/// `$u8` … `$i64`: the helper that reads one integer type, checking its
/// range with `$int`, or with `$big` for the 64-bit types JSON carries as
/// decimal strings.
macro_rules! range_helper {
    ($check:literal, $type:literal, $ts_type:literal, $min:literal, $max:literal) => {
        (
            concat!("$", $type),
            &[$check],
            &[],
            concat!(
                "function $",
                $type,
                "(json: unknown, path: string): ",
                $ts_type,
                " {\n  return ",
                $check,
                "(json, path, ",
                $min,
                ", ",
                $max,
                ", \"",
                $type,
                "\");\n}"
            ),
        )
    };
}

const HELPERS: &[Helper] = &[
    (
        "$err",
        &[],
        &[],
        r#"function $err(path: string, expected: string, got: unknown): Error {
  let seen: string;
  if (got === undefined) seen = "nothing";
  else if (got === null) seen = "null";
  else if (typeof got === "string") seen = JSON.stringify(got.length > 40 ? got.slice(0, 40) + "…" : got);
  else if (Array.isArray(got)) seen = "an array";
  else if (typeof got === "object") seen = "an object";
  else seen = String(got);
  return new Error(`tagwire JSON: expected ${expected} at ${path}, got ${seen}`);
}"#,
    ),
    (
        "$object",
        &["$err"],
        &[],
        r#"function $object(json: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw $err(path, "an object", json);
  for (const k of Object.keys(json)) {
    if (!keys.includes(k)) throw new Error(`tagwire JSON: unknown property ${JSON.stringify(k)} at ${path}`);
  }
  return json as Record<string, unknown>;
}"#,
    ),
    (
        "$get",
        &[],
        &[],
        r#"function $get(o: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}"#,
    ),
    (
        "$opt",
        &[],
        &[],
        r#"function $opt<T>(json: unknown, path: string, f: (json: unknown, path: string) => T): T | undefined {
  return json === undefined || json === null ? undefined : f(json, path);
}"#,
    ),
    (
        "$variant",
        &["$err"],
        &[],
        r#"function $variant(json: unknown, path: string): [string, unknown] {
  if (typeof json === "object" && json !== null && !Array.isArray(json)) {
    const keys = Object.keys(json);
    if (keys.length === 1) return [keys[0]!, (json as Record<string, unknown>)[keys[0]!]];
  }
  throw $err(path, "an object with one property, the variant's name", json);
}"#,
    ),
    (
        "$bool",
        &["$err"],
        &[],
        r#"function $bool(json: unknown, path: string): boolean {
  if (typeof json !== "boolean") throw $err(path, "true or false", json);
  return json;
}"#,
    ),
    (
        "$int",
        &["$err"],
        &[],
        r#"function $int(json: unknown, path: string, min: number, max: number, type: string): number {
  if (typeof json !== "number" || !Number.isInteger(json) || json < min || json > max) {
    throw $err(path, `a ${type} (an integer from ${min} to ${max})`, json);
  }
  return json === 0 ? 0 : json;
}"#,
    ),
    range_helper!("$int", "u8", "number", "0", "0xff"),
    range_helper!("$int", "u16", "number", "0", "0xffff"),
    range_helper!("$int", "u32", "number", "0", "0xffff_ffff"),
    range_helper!("$int", "i8", "number", "-0x80", "0x7f"),
    range_helper!("$int", "i16", "number", "-0x8000", "0x7fff"),
    range_helper!("$int", "i32", "number", "-0x8000_0000", "0x7fff_ffff"),
    (
        "$INTEGER",
        &[],
        &[],
        r#"/** SPEC §3.3's integer grammar. */
const $INTEGER = /^(?:0|-?[1-9][0-9]*)$/;"#,
    ),
    (
        "$intKey",
        &["$err", "$INTEGER"],
        &[],
        r#"function $intKey(key: string, path: string, min: number, max: number, type: string): number {
  if ($INTEGER.test(key)) {
    const n = Number(key);
    if (n >= min && n <= max) return n;
  }
  throw $err(path, `a ${type} key (an integer from ${min} to ${max} in decimal)`, key);
}"#,
    ),
    (
        "$big",
        &["$err", "$INTEGER"],
        &[],
        r#"function $big(json: unknown, path: string, min: bigint, max: bigint, type: string): bigint {
  if (typeof json === "string" && json.length <= 20 && $INTEGER.test(json)) {
    const b = BigInt(json);
    if (b >= min && b <= max) return b;
  }
  throw $err(path, `a ${type} as a decimal string`, json);
}"#,
    ),
    range_helper!("$big", "u64", "bigint", "0n", "0xffff_ffff_ffff_ffffn"),
    range_helper!(
        "$big",
        "i64",
        "bigint",
        "-0x8000_0000_0000_0000n",
        "0x7fff_ffff_ffff_ffffn"
    ),
    (
        "$float",
        &["$err"],
        &[],
        r#"function $float(json: unknown, path: string, type: string): number {
  if (typeof json === "number" && Number.isFinite(json)) return json;
  switch (json) {
    case "-0":
      return -0;
    case "NaN":
      return NaN;
    case "Infinity":
      return Infinity;
    case "-Infinity":
      return -Infinity;
  }
  throw $err(path, `a ${type} (a number, "-0", "NaN", "Infinity" or "-Infinity")`, json);
}"#,
    ),
    (
        "$f32",
        &["$float", "$err"],
        &[],
        r#"function $f32(json: unknown, path: string): number {
  const wide = $float(json, path, "f32");
  const narrow = Math.fround(wide);
  if (Number.isFinite(wide) && !Number.isFinite(narrow)) throw $err(path, "a number in f32 range", json);
  return narrow;
}"#,
    ),
    (
        "$f64",
        &["$float"],
        &[],
        r#"function $f64(json: unknown, path: string): number {
  return $float(json, path, "f64");
}"#,
    ),
    (
        "$floatJson",
        &[],
        &[],
        r#"function $floatJson(v: number): number | string {
  if (Number.isFinite(v)) return v === 0 && 1 / v < 0 ? "-0" : v;
  return v !== v ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
}"#,
    ),
    (
        "$string",
        &["$err"],
        &[],
        r#"function $string(json: unknown, path: string): string {
  if (typeof json !== "string") throw $err(path, "a string", json);
  return json;
}"#,
    ),
    (
        "$bytes",
        &["$err"],
        &["decodeBase64url"],
        r#"function $bytes(json: unknown, path: string): Uint8Array {
  if (typeof json === "string") {
    const b = decodeBase64url(json);
    if (b !== undefined) return b;
  }
  throw $err(path, "bytes (unpadded base64url)", json);
}"#,
    ),
    (
        "$list",
        &["$err"],
        &[],
        r#"function $list<T>(json: unknown, path: string, f: (json: unknown, path: string) => T): T[] {
  if (!Array.isArray(json)) throw $err(path, "an array", json);
  const out: T[] = [];
  for (let i = 0; i < json.length; i++) out.push(f(json[i], `${path}[${i}]`));
  return out;
}"#,
    ),
    (
        "$map",
        &["$err"],
        &[],
        r#"function $map<K, V>(
  json: unknown,
  path: string,
  key: (key: string, path: string) => K,
  f: (json: unknown, path: string) => V,
): Map<K, V> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw $err(path, "an object", json);
  const out = new Map<K, V>();
  for (const k of Object.keys(json)) {
    const p = `${path}[${JSON.stringify(k)}]`;
    const mapKey = key(k, p);
    if (out.has(mapKey)) throw $err(p, "a unique key", k);
    out.set(mapKey, f((json as Record<string, unknown>)[k], p));
  }
  return out;
}"#,
    ),
    (
        "$mapJson",
        &[],
        &["compareKeys"],
        r#"function $mapJson<K extends string | number | bigint, V>(m: Map<K, V>, f: (v: V) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Array.from(m).sort((a, b) => compareKeys(a[0], b[0]))) {
    const key = typeof k === "string" ? k : k.toString();
    Object.defineProperty(out, key, { value: f(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}"#,
    ),
];

fn is_identity(ty: &Type) -> bool {
    matches!(
        ty,
        Type::Bool
            | Type::U8
            | Type::U16
            | Type::U32
            | Type::I8
            | Type::I16
            | Type::I32
            | Type::String
    )
}

impl Gen<'_> {
    /// A private JSON helper, emitted with what it calls.
    pub(super) fn helper(&self, name: &'static str) -> &'static str {
        if self.helpers.borrow().contains(name) {
            return name;
        }
        self.helpers.borrow_mut().insert(name);
        if let Some((_, deps, runtime, _)) = HELPERS.iter().find(|h| h.0 == name) {
            for d in *deps {
                self.helper(d);
            }
            for r in *runtime {
                self.rt(r);
            }
        }
        name
    }

    pub(super) fn helpers_code(&self) -> String {
        let used = self.helpers.borrow();
        let mut out = String::new();
        for (name, _, _, code) in HELPERS {
            if used.contains(name) {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(code);
                out.push('\n');
            }
        }
        out
    }

    /// The JSON form of `e`, a value of `ty`.
    fn to_json(&self, ty: &Type, e: &str) -> String {
        match ty {
            t if is_identity(t) => e.to_string(),
            Type::U64 | Type::I64 => format!("{e}.toString()"),
            Type::F64 => format!("{}({e})", self.helper("$floatJson")),
            Type::F32 => format!("{}(Math.fround({e}))", self.helper("$floatJson")),
            Type::Bytes => format!("{}({e})", self.rt("encodeBase64url")),
            Type::List(inner) if is_identity(inner) => format!("{e}.slice()"),
            Type::List(inner) => format!("{e}.map({})", self.to_json_fn(inner)),
            Type::Map(_, v) => {
                let f = if is_identity(v) {
                    "(x) => x".to_string()
                } else {
                    self.to_json_fn(v)
                };
                format!("{}({e}, {f})", self.helper("$mapJson"))
            }
            Type::Optional(inner) => {
                format!("{e} === undefined ? null : {}", self.to_json(inner, e))
            }
            Type::Named(r) => format!("{}({e})", self.fn_ref(r, "toJson")),
            _ => unreachable!("identity types handled above"),
        }
    }

    /// A `(x) => json` function for values of `ty`.
    fn to_json_fn(&self, ty: &Type) -> String {
        match ty {
            Type::Named(r) => self.fn_ref(r, "toJson"),
            Type::Optional(_) => format!("(x) => ({})", self.to_json(ty, "x")),
            _ => format!("(x) => {}", self.to_json(ty, "x")),
        }
    }

    /// An expression converting JSON `j` at path `p` to a value of `ty`.
    fn parse_json(&self, ty: &Type, j: &str, p: &str) -> String {
        match ty {
            Type::List(inner) => format!(
                "{}({j}, {p}, {})",
                self.helper("$list"),
                self.parse_json_fn(inner)
            ),
            Type::Map(k, v) => format!(
                "{}({j}, {p}, {}, {})",
                self.helper("$map"),
                self.key_fn(k),
                self.parse_json_fn(v)
            ),
            Type::Optional(inner) => format!(
                "{}({j}, {p}, {})",
                self.helper("$opt"),
                self.parse_json_fn(inner)
            ),
            _ => format!("{}({j}, {p})", self.parse_json_fn(ty)),
        }
    }

    /// A `(json, path) => T` function for values of `ty`.
    fn parse_json_fn(&self, ty: &Type) -> String {
        let helper = match ty {
            Type::Bool => "$bool",
            Type::U8 => "$u8",
            Type::U16 => "$u16",
            Type::U32 => "$u32",
            Type::U64 => "$u64",
            Type::I8 => "$i8",
            Type::I16 => "$i16",
            Type::I32 => "$i32",
            Type::I64 => "$i64",
            Type::F32 => "$f32",
            Type::F64 => "$f64",
            Type::String => "$string",
            Type::Bytes => "$bytes",
            Type::Named(r) => return self.fn_ref(r, "fromJson"),
            _ => return format!("(j, p) => {}", self.parse_json(ty, "j", "p")),
        };
        self.helper(helper).to_string()
    }

    /// A `(key, path) => K` function for map keys of `ty` (JSON object keys
    /// are strings; integer keys are decimal).
    fn key_fn(&self, ty: &Type) -> String {
        let (min, max) = match ty {
            Type::String => return "(k) => k".to_string(),
            Type::U64 => return self.helper("$u64").to_string(),
            Type::I64 => return self.helper("$i64").to_string(),
            Type::U8 => ("0", "0xff"),
            Type::U16 => ("0", "0xffff"),
            Type::U32 => ("0", "0xffff_ffff"),
            Type::I8 => ("-0x80", "0x7f"),
            Type::I16 => ("-0x8000", "0x7fff"),
            Type::I32 => ("-0x8000_0000", "0x7fff_ffff"),
            _ => unreachable!("map keys are strings or integers"),
        };
        format!(
            "(k, p) => {}(k, p, {min}, {max}, {})",
            self.helper("$intKey"),
            json_string(ty.primitive_name().unwrap_or_default())
        )
    }

    /// Statements returning `wrap(object)`, the JSON object of `fields` of `v`.
    fn to_json_fields(&self, c: &mut Code, fields: &[Field], wrap: &dyn Fn(&str) -> String) {
        let optional = |f: &Field| matches!(f.ty, Type::Optional(_));
        if !fields.iter().any(optional) {
            let entries: Vec<String> = fields
                .iter()
                .map(|f| {
                    format!(
                        "{}: {}",
                        f.name,
                        self.to_json(&f.ty, &format!("v.{}", f.name))
                    )
                })
                .collect();
            c.line(format!(
                "return {};",
                wrap(&object_literal(&entries, c.indent + 1))
            ));
            return;
        }
        c.line("const o: Record<string, unknown> = {};");
        for f in fields {
            let value = format!("v.{}", f.name);
            match &f.ty {
                Type::Optional(inner) => c.line(format!(
                    "if ({value} !== undefined) o[{}] = {};",
                    json_string(&f.name),
                    self.to_json(inner, &value)
                )),
                ty => c.line(format!(
                    "o[{}] = {};",
                    json_string(&f.name),
                    self.to_json(ty, &value)
                )),
            }
        }
        c.line(format!("return {};", wrap("o")));
    }

    /// Statements reading `fields` from JSON object `o` (at path expression
    /// `path`) and returning the value (`prefix` entries first).
    fn parse_json_fields(
        &self,
        c: &mut Code,
        prefix: &[String],
        fields: &[Field],
        path: &str,
        object_type: &str,
    ) {
        let get = |f: &Field| format!("{}(o, {})", self.helper("$get"), json_string(&f.name));
        let field_path = |f: &Field| format!("{path} + {}", json_string(&format!(".{}", f.name)));
        return_fields(c, prefix, fields, object_type, &|f| {
            self.parse_json(&f.ty, &get(f), &field_path(f))
        });
    }

    fn key_list(fields: &[Field]) -> String {
        let keys: Vec<String> = fields.iter().map(|f| json_string(&f.name)).collect();
        format!("[{}]", keys.join(", "))
    }

    pub(super) fn struct_json(&self, c: &mut Code, name: &str, fields: &[Field]) {
        c.item();
        c.line(format!("/** `{name}` to canonical JSON (SPEC §8). */"));
        if fields.is_empty() {
            c.open(format!(
                "export function toJson{name}(_v: {name}): unknown {{"
            ));
            c.line("return {};");
        } else {
            c.open(format!(
                "export function toJson{name}(v: {name}): unknown {{"
            ));
            self.to_json_fields(c, fields, &|o| o.to_string());
        }
        c.close("}");
        c.item();
        c.line(format!(
            "/** `{name}` from canonical JSON (SPEC §8); throws on anything else. */"
        ));
        c.open(format!(
            "export function fromJson{name}(json: unknown, path = \"$\"): {name} {{"
        ));
        let object = self.helper("$object");
        if fields.is_empty() {
            c.line(format!("{object}(json, path, []);"));
            c.line("return {};");
        } else {
            c.line(format!(
                "const o = {object}(json, path, {});",
                Self::key_list(fields)
            ));
            self.parse_json_fields(c, &[], fields, "path", name);
        }
        c.close("}");
    }

    pub(super) fn enum_json(&self, c: &mut Code, name: &str) {
        c.item();
        c.line(format!(
            "/** `{name}` to canonical JSON: the variant's name (SPEC §8). */"
        ));
        c.open(format!(
            "export function toJson{name}(v: {name}): unknown {{"
        ));
        c.line("return v;");
        c.close("}");
        c.item();
        c.line(format!(
            "/** `{name}` from canonical JSON: a variant's name; throws on anything else. */"
        ));
        c.open(format!(
            "export function fromJson{name}(json: unknown, path = \"$\"): {name} {{"
        ));
        c.line(format!(
            "if (typeof json === \"string\" && Object.hasOwn({name}, json)) return json as {name};"
        ));
        c.line(format!(
            "throw {}(path, {}, json);",
            self.helper("$err"),
            json_string(&format!("a {name} name"))
        ));
        c.close("}");
    }

    pub(super) fn union_json(&self, c: &mut Code, name: &str, variants: &[UnionVariant]) {
        c.item();
        c.line(format!(
            "/** `{name}` to canonical JSON: `{{ variant: {{ ...fields }} }}` (SPEC §8). */"
        ));
        c.open(format!(
            "export function toJson{name}(v: {name}): unknown {{"
        ));
        c.open("switch (v.$case) {");
        for v in variants {
            let key = json_string(&v.name);
            if v.fields.is_empty() {
                c.open(format!("case {key}:"));
                c.line(format!("return {{ {}: {{}} }};", v.name));
                c.dedent();
            } else {
                let block = v.fields.iter().any(|f| matches!(f.ty, Type::Optional(_)));
                c.open(format!("case {key}:{}", if block { " {" } else { "" }));
                let variant = v.name.clone();
                self.to_json_fields(c, &v.fields, &|o| format!("{{ {variant}: {o} }}"));
                if block {
                    c.close("}");
                } else {
                    c.dedent();
                }
            }
        }
        self.unknown_case(c, name);
        c.close("}");
        c.close("}");

        c.item();
        c.line(format!(
            "/** `{name}` from canonical JSON (SPEC §8); throws on anything else. */"
        ));
        c.open(format!(
            "export function fromJson{name}(json: unknown, path = \"$\"): {name} {{"
        ));
        c.line(format!(
            "const [name, body] = {}(json, path);",
            self.helper("$variant")
        ));
        c.line("const p = path + \".\" + name;");
        let object = self.helper("$object");
        c.open("switch (name) {");
        for v in variants {
            let key = json_string(&v.name);
            let case = format!("$case: {key}");
            if v.fields.is_empty() {
                c.open(format!("case {key}:"));
                c.line(format!("{object}(body, p, []);"));
                c.line(format!("return {{ {case} }};"));
                c.dedent();
            } else {
                c.open(format!("case {key}: {{"));
                c.line(format!(
                    "const o = {object}(body, p, {});",
                    Self::key_list(&v.fields)
                ));
                self.parse_json_fields(c, &[case], &v.fields, "p", &self.variant_type(v));
                c.close("}");
            }
        }
        c.open("default:");
        c.line(format!(
            "throw {}(path, {}, name);",
            self.helper("$err"),
            json_string(&format!("a {name} variant"))
        ));
        c.dedent();
        c.close("}");
        c.close("}");
    }
}
