//! Type declarations: interfaces, enum unions and constants, discriminated unions.

use super::{Code, Gen, docs, json_string};
use crate::ir::{EnumVariant, Field, Type, UnionVariant};

impl Gen<'_> {
    /// The TypeScript type of a value of `ty` (an optional is `T | undefined`).
    pub(super) fn ts_type(&self, ty: &Type) -> String {
        match ty {
            Type::Bool => "boolean".into(),
            Type::U8
            | Type::U16
            | Type::U32
            | Type::I8
            | Type::I16
            | Type::I32
            | Type::F32
            | Type::F64 => "number".into(),
            Type::U64 | Type::I64 => "bigint".into(),
            Type::String => "string".into(),
            Type::Bytes => "Uint8Array".into(),
            Type::List(inner) => {
                let t = self.ts_type(inner);
                if matches!(**inner, Type::Optional(_)) {
                    format!("({t})[]")
                } else {
                    format!("{t}[]")
                }
            }
            Type::Map(k, v) => format!("Map<{}, {}>", self.ts_type(k), self.ts_type(v)),
            Type::Optional(inner) => format!("{} | undefined", self.ts_type(inner)),
            Type::Named(r) => self.type_name(r),
        }
    }

    /// `name: T;`, or `name?: T;` for an optional field.
    pub(super) fn field_decl(&self, f: &Field) -> String {
        match &f.ty {
            Type::Optional(inner) => format!("{}?: {};", f.name, self.ts_type(inner)),
            ty => format!("{}: {};", f.name, self.ts_type(ty)),
        }
    }

    pub(super) fn struct_decl(&self, c: &mut Code, name: &str, doc: &[String], fields: &[Field]) {
        c.item();
        docs(c, doc);
        if fields.is_empty() {
            c.line(format!("export type {name} = Record<string, never>;"));
            return;
        }
        c.open(format!("export interface {name} {{"));
        for f in fields {
            docs(c, &f.docs);
            c.line(self.field_decl(f));
        }
        c.close("}");
    }

    pub(super) fn enum_decl(
        &self,
        c: &mut Code,
        name: &str,
        doc: &[String],
        variants: &[EnumVariant],
    ) {
        c.item();
        docs(c, doc);
        let names: Vec<String> = variants.iter().map(|v| json_string(&v.name)).collect();
        let one = format!("export type {name} = {};", names.join(" | "));
        if one.len() <= 100 {
            c.line(one);
        } else {
            c.open(format!("export type {name} ="));
            let last = names.len() - 1;
            for (i, n) in names.iter().enumerate() {
                c.line(format!("| {n}{}", if i == last { ";" } else { "" }));
            }
            c.dedent();
        }
        c.line(format!("/** The wire value of each `{name}`. */"));
        c.open(format!("export const {name} = {{"));
        for v in variants {
            docs(c, &v.docs);
            c.line(format!("{}: {},", v.name, v.value));
        }
        c.close("} as const;");
        c.open(format!(
            "const ${name}ByValue = /* @__PURE__ */ {}<{name}>([",
            self.rt("enumTable")
        ));
        for v in variants {
            c.line(format!("[{}, {}],", v.value, json_string(&v.name)));
        }
        c.close("]);");
    }

    /// `{ $case: "circle"; center: Point; radius: number }` on one line.
    pub(super) fn variant_type(&self, v: &UnionVariant) -> String {
        let mut parts = vec![format!("$case: {}", json_string(&v.name))];
        parts.extend(v.fields.iter().map(|f| {
            let d = self.field_decl(f);
            d.trim_end_matches(';').to_string()
        }));
        format!("{{ {} }}", parts.join("; "))
    }

    pub(super) fn union_decl(
        &self,
        c: &mut Code,
        name: &str,
        doc: &[String],
        variants: &[UnionVariant],
    ) {
        c.item();
        docs(c, doc);
        c.open(format!("export type {name} ="));
        let last = variants.len() - 1;
        for (i, v) in variants.iter().enumerate() {
            let end = if i == last { ";" } else { "" };
            docs(c, &v.docs);
            if v.fields.iter().all(|f| f.docs.is_empty()) {
                c.line(format!("| {}{end}", self.variant_type(v)));
            } else {
                c.open("| {");
                c.indent += 1;
                c.line(format!("$case: {};", json_string(&v.name)));
                for f in &v.fields {
                    docs(c, &f.docs);
                    c.line(self.field_decl(f));
                }
                c.close(format!("}}{end}"));
                c.dedent();
            }
        }
        c.dedent();
    }
}
