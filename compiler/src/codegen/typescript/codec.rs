//! `writeX` / `readX`: one function per type for both encodings, over the
//! runtime's shared `Writer` / `Reader` interfaces, in schema order.

use super::{Code, Gen, json_string, return_fields};
use crate::ir::{Field, Type, UnionVariant};

impl Gen<'_> {
    /// An expression writing `e` (of type `ty`) with writer `w`.
    fn write(&self, ty: &Type, e: &str) -> String {
        if let Some(m) = ty.scalar_name() {
            return format!("w.{m}({e})");
        }
        match ty {
            Type::String => format!("w.str({e})"),
            Type::Bytes => format!("w.bytes({e})"),
            Type::List(inner) => format!("w.list({e}, {})", self.write_fn(inner)),
            Type::Map(k, v) => format!("w.map({e}, {}, {})", self.write_fn(k), self.write_fn(v)),
            Type::Optional(inner) => {
                let method = if self.is_struct(inner) {
                    "optionalStruct"
                } else {
                    "optional"
                };
                format!("w.{method}({e}, {})", self.write_fn(inner))
            }
            Type::Named(r) => format!("{}(w, {e})", self.fn_ref(r, "write")),
            _ => unreachable!("primitives handled above"),
        }
    }

    /// A `(w, x) => void` function writing one value of `ty`.
    fn write_fn(&self, ty: &Type) -> String {
        match ty {
            Type::Named(r) => self.fn_ref(r, "write"),
            _ => format!("(w, x) => {}", self.write(ty, "x")),
        }
    }

    /// An expression reading a value of `ty` with reader `r`.
    fn read(&self, ty: &Type) -> String {
        if let Some(m) = ty.scalar_name() {
            return format!("r.{m}()");
        }
        match ty {
            Type::String => "r.string()".into(),
            Type::Bytes => "r.bytes()".into(),
            Type::List(inner) => format!("r.list({})", self.read_fn(inner)),
            Type::Map(k, v) => format!("r.map({}, {})", self.read_fn(k), self.read_fn(v)),
            Type::Optional(inner) => {
                let method = if self.is_struct(inner) {
                    "optionalStruct"
                } else {
                    "optional"
                };
                format!("r.{method}({})", self.read_fn(inner))
            }
            // Every struct value opens a nesting level (SPEC §6.3), as in Rust.
            Type::Named(r) if self.is_struct(ty) => {
                format!("r.nested({})", self.fn_ref(r, "read"))
            }
            Type::Named(r) => format!("{}(r)", self.fn_ref(r, "read")),
            _ => unreachable!("primitives handled above"),
        }
    }

    /// A `(r) => T` function reading one value of `ty`.
    fn read_fn(&self, ty: &Type) -> String {
        match ty {
            Type::Named(r) if !self.is_struct(ty) => self.fn_ref(r, "read"),
            _ => format!("(r) => {}", self.read(ty)),
        }
    }

    /// Statements that read `fields` in order and return the object (see
    /// [`return_fields`]).
    fn read_fields(&self, c: &mut Code, prefix: &[String], fields: &[Field], object_type: &str) {
        return_fields(c, prefix, fields, object_type, &|f| self.read(&f.ty));
    }

    /// `writeX`, `readX`, `toJsonX`, `fromJsonX` of a struct or message version.
    pub(super) fn struct_functions(&self, c: &mut Code, name: &str, fields: &[Field]) {
        let writer = self.rt("Writer");
        let reader = self.rt("Reader");
        c.item();
        if fields.is_empty() {
            c.line(format!(
                "export function write{name}(_w: {writer}, _v: {name}): void {{}}"
            ));
        } else {
            c.open(format!(
                "export function write{name}(w: {writer}, v: {name}): void {{"
            ));
            for f in fields {
                c.line(format!("{};", self.write(&f.ty, &format!("v.{}", f.name))));
            }
            c.close("}");
        }
        c.item();
        if fields.is_empty() {
            c.open(format!(
                "export function read{name}(_r: {reader}): {name} {{"
            ));
            c.line("return {};");
        } else {
            c.open(format!(
                "export function read{name}(r: {reader}): {name} {{"
            ));
            self.read_fields(c, &[], fields, name);
        }
        c.close("}");
        self.struct_json(c, name, fields);
    }

    pub(super) fn enum_functions(&self, c: &mut Code, name: &str) {
        let writer = self.rt("Writer");
        let reader = self.rt("Reader");
        c.item();
        c.open(format!(
            "export function write{name}(w: {writer}, v: {name}): void {{"
        ));
        c.line(format!("w.enumValue({name}[v]);"));
        c.close("}");
        c.item();
        c.open(format!(
            "export function read{name}(r: {reader}): {name} {{"
        ));
        c.line(format!("return r.enumValue(${name}ByValue);"));
        c.close("}");
        self.enum_json(c, name);
    }

    pub(super) fn union_functions(&self, c: &mut Code, name: &str, variants: &[UnionVariant]) {
        let writer = self.rt("Writer");
        let reader = self.rt("Reader");
        c.item();
        c.open(format!(
            "export function write{name}(w: {writer}, v: {name}): void {{"
        ));
        c.open("switch (v.$case) {");
        for v in variants {
            c.open(format!("case {}:", json_string(&v.name)));
            c.line(format!("w.variant({});", v.index));
            for f in &v.fields {
                c.line(format!("{};", self.write(&f.ty, &format!("v.{}", f.name))));
            }
            c.line("return;");
            c.dedent();
        }
        self.unknown_case(c, name);
        c.close("}");
        c.close("}");

        c.item();
        let any_fields = variants.iter().any(|v| !v.fields.is_empty());
        let r = if any_fields { "r" } else { "_r" };
        c.open(format!(
            "export function read{name}(r: {reader}): {name} {{"
        ));
        if variants.len() == 1 {
            c.open(format!("return r.union(1, ({r}, _i): {name} => {{",));
            self.read_variant(c, &variants[0]);
            c.close("});");
        } else {
            c.open(format!(
                "return r.union({}, ({r}, i): {name} => {{",
                variants.len()
            ));
            c.open("switch (i) {");
            let last = variants.len() - 1;
            for (i, v) in variants.iter().enumerate() {
                // The runtime rejects indices >= the count, so the last
                // variant is the default.
                let label = if i == last {
                    "default:".to_string()
                } else {
                    format!("case {}:", v.index)
                };
                // A block only where the variant declares locals.
                if v.fields.iter().any(|f| matches!(f.ty, Type::Optional(_))) {
                    c.open(format!("{label} {{"));
                    self.read_variant(c, v);
                    c.close("}");
                } else {
                    c.open(label);
                    self.read_variant(c, v);
                    c.dedent();
                }
            }
            c.close("}");
            c.close("});");
        }
        c.close("}");
        self.union_json(c, name, variants);
    }

    /// The `default:` arm of a `switch (v.$case)` over a union's variants:
    /// an object whose `$case` names none of them is not a value of the
    /// union, and every encoder refuses it alike.
    pub(super) fn unknown_case(&self, c: &mut Code, name: &str) {
        c.open("default:");
        c.line(format!(
            "throw new {}({});",
            self.rt("EncodeError"),
            json_string(&format!("tagwire: not a {name} (unknown $case)"))
        ));
        c.dedent();
    }

    fn read_variant(&self, c: &mut Code, v: &UnionVariant) {
        let case = format!("$case: {}", json_string(&v.name));
        self.read_fields(c, &[case], &v.fields, &self.variant_type(v));
    }
}
