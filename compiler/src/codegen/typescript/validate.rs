//! Constraint checks (SPEC §6.4): `validateX(v)` for every struct, union and
//! message version whose values can break a constraint, returning the first
//! `Violation` or `undefined`; types without constraints get no function.
//! The path of a violation is only built when a value fails.

use super::{Code, Gen, json_string};
use crate::codegen::validate::{constrained_types, needs, path_template};
use crate::ir::{Bound, Checks, Constraint, Field, Type, TypeRef, UnionVariant};

/// One step of a path: list indices and map keys are held in these bindings.
type Step = crate::codegen::validate::Step<String>;

/// The path as a JavaScript expression: a string literal, or a template.
fn path_expr(path: &[Step]) -> String {
    let mut dynamic = false;
    let text = path_template(path, |binding, quoted| {
        dynamic = true;
        if quoted {
            format!("${{JSON.stringify({binding})}}")
        } else {
            format!("${{{binding}}}")
        }
    });
    if dynamic {
        format!("`{text}`")
    } else {
        json_string(&text)
    }
}

fn float_literal(b: Option<Bound>) -> String {
    match b {
        None => "undefined".into(),
        Some(b) => crate::ir::float_text(b.as_f64()),
    }
}

fn int_literal(b: Option<Bound>, big: bool) -> String {
    match b {
        Some(Bound::Int(i)) if big => format!("{i}n"),
        Some(Bound::Int(i)) => i.to_string(),
        _ => "undefined".into(),
    }
}

impl Gen<'_> {
    fn constrained(&self) -> std::cell::Ref<'_, std::collections::HashSet<TypeRef>> {
        if self.constrained.borrow().is_none() {
            *self.constrained.borrow_mut() = Some(constrained_types(self.schema));
        }
        std::cell::Ref::map(self.constrained.borrow(), |c| {
            c.as_ref().expect("computed above")
        })
    }

    pub(super) fn is_constrained(&self, r: &TypeRef) -> bool {
        self.constrained().contains(r)
    }

    fn needs(&self, ty: &Type, checks: &Checks) -> bool {
        needs(&self.constrained(), ty, checks)
    }

    pub(super) fn fields_constrained(&self, fields: &[Field]) -> bool {
        fields.iter().any(|f| self.needs(&f.ty, &f.checks))
    }

    /// `validate<Name>` for a struct or message version's fields.
    pub(super) fn validate_struct(&self, c: &mut Code, name: &str, fields: &[Field], doc: &str) {
        if !self.fields_constrained(fields) {
            return;
        }
        let violation = self.rt("Violation");
        c.item();
        c.line(format!("/** {doc} */"));
        c.open(format!(
            "export function validate{name}(v: {name}): {violation} | undefined {{"
        ));
        let mut body = Code {
            out: String::new(),
            indent: c.indent,
        };
        self.fields_checks(&mut body, fields, "v", &[]);
        self.declarations(c, &body.out);
        c.out.push_str(&body.out);
        c.line("return undefined;");
        c.close("}");
    }

    /// `let m` and `let e` where the body uses them (`noUnusedLocals`).
    fn declarations(&self, c: &mut Code, body: &str) {
        if body.contains("(m = ") {
            c.line("let m: string | undefined;");
        }
        if body.contains("(e = ") {
            c.line(format!("let e: {} | undefined;", self.rt("Violation")));
        }
    }

    pub(super) fn validate_union(
        &self,
        c: &mut Code,
        name: &str,
        r: &TypeRef,
        variants: &[UnionVariant],
    ) {
        if !self.is_constrained(r) {
            return;
        }
        let violation = self.rt("Violation");
        c.item();
        c.line(format!(
            "/** The first value of a `{name}` that breaks a constraint of the schema (SPEC §6.4), or `undefined`. */"
        ));
        c.open(format!(
            "export function validate{name}(v: {name}): {violation} | undefined {{"
        ));
        let mut body = Code {
            out: String::new(),
            indent: c.indent,
        };
        body.open("switch (v.$case) {");
        for variant in variants
            .iter()
            .filter(|v| self.fields_constrained(&v.fields))
        {
            body.open(format!("case {}:", json_string(&variant.name)));
            self.fields_checks(
                &mut body,
                &variant.fields,
                "v",
                &[Step::Name(variant.name.clone())],
            );
            body.line("break;");
            body.dedent();
        }
        body.close("}");
        self.declarations(c, &body.out);
        c.out.push_str(&body.out);
        c.line("return undefined;");
        c.close("}");
    }

    fn fields_checks(&self, c: &mut Code, fields: &[Field], object: &str, prefix: &[Step]) {
        for field in fields.iter().filter(|f| self.needs(&f.ty, &f.checks)) {
            let mut path = prefix.to_vec();
            path.push(Step::Name(field.name.clone()));
            let access = format!("{object}.{}", field.name);
            self.value_checks(c, &field.ty, &field.checks, &access, &path, 0);
        }
    }

    /// Statements checking `value` (an expression) of type `ty`; a
    /// violation returns it from the function.
    fn value_checks(
        &self,
        c: &mut Code,
        ty: &Type,
        checks: &Checks,
        value: &str,
        path: &[Step],
        depth: usize,
    ) {
        if let Type::Optional(inner) = ty {
            let x = format!("o{depth}");
            c.open("{");
            c.line(format!("const {x} = {value};"));
            c.open(format!("if ({x} !== undefined) {{"));
            self.value_checks(c, inner, checks, &x, path, depth + 1);
            c.close("}");
            c.close("}");
            return;
        }
        let at = path_expr(path);
        for constraint in &checks.own {
            let check = self.own_check(ty, constraint, value);
            c.line(format!(
                "if ((m = {check}) !== undefined) return {{ path: {at}, message: m }};"
            ));
        }
        match ty {
            Type::List(element) => {
                let element_checks = checks.element.as_deref().cloned().unwrap_or_default();
                if self.needs(element, &element_checks) {
                    let (i, x) = (format!("i{depth}"), format!("x{depth}"));
                    let mut inner_path = path.to_vec();
                    inner_path.push(Step::Index(i.clone()));
                    c.open(format!("for (const [{i}, {x}] of {value}.entries()) {{"));
                    self.value_checks(c, element, &element_checks, &x, &inner_path, depth + 1);
                    c.close("}");
                }
            }
            Type::Map(key_ty, value_ty) => {
                let key_checks = checks.key.as_deref().cloned().unwrap_or_default();
                let value_checks = checks.value.as_deref().cloned().unwrap_or_default();
                let check_values = self.needs(value_ty, &value_checks);
                if key_checks.own.is_empty() && !check_values {
                    return;
                }
                let string_key = **key_ty == Type::String;
                let (k, x) = (format!("k{depth}"), format!("x{depth}"));
                let pair = if check_values {
                    format!("[{k}, {x}]")
                } else {
                    k.clone()
                };
                let source = if check_values {
                    value.to_string()
                } else {
                    format!("{value}.keys()")
                };
                c.open(format!("for (const {pair} of {source}) {{"));
                let key_text = if string_key {
                    format!("JSON.stringify({k})")
                } else {
                    format!("String({k})")
                };
                for constraint in &key_checks.own {
                    let check = self.own_check(key_ty, constraint, &k);
                    c.line(format!(
                        "if ((m = {check}) !== undefined) return {{ path: {at}, message: `key ${{{key_text}}}: ${{m}}` }};"
                    ));
                }
                if check_values {
                    let mut inner_path = path.to_vec();
                    inner_path.push(Step::Key(k.clone(), string_key));
                    self.value_checks(c, value_ty, &value_checks, &x, &inner_path, depth + 1);
                }
                c.close("}");
            }
            Type::Named(r) if self.is_constrained(r) => {
                let f = self.fn_ref(r, "validate");
                let within = self.rt("within");
                c.line(format!(
                    "if ((e = {f}({value})) !== undefined) return {within}({at}, e);"
                ));
            }
            _ => {}
        }
    }

    /// An expression: the message of `constraint`'s violation by `value`, or `undefined`.
    fn own_check(&self, ty: &Type, constraint: &Constraint, value: &str) -> String {
        let range = json_string(&constraint.bounds_text().unwrap_or_default());
        match constraint {
            Constraint::Len { min, max } => {
                let count = if *ty == Type::String {
                    format!("{}({value})", self.rt("charCount"))
                } else if matches!(ty, Type::Map(_, _)) {
                    format!("{value}.size")
                } else {
                    format!("{value}.length")
                };
                let max = max.map_or_else(|| "undefined".to_string(), |m| m.to_string());
                format!("{}({count}, {min}, {max}, {range})", self.rt("checkLen"))
            }
            Constraint::Range { min, max } => match ty {
                Type::F32 | Type::F64 => format!(
                    "{}({value}, {}, {}, {range})",
                    self.rt("checkFloat"),
                    float_literal(*min),
                    float_literal(*max)
                ),
                Type::U64 | Type::I64 => format!(
                    "{}({value}, {}, {}, {range})",
                    self.rt("checkBigInt"),
                    int_literal(*min, true),
                    int_literal(*max, true)
                ),
                _ => format!(
                    "{}({value}, {}, {}, {range})",
                    self.rt("checkInt"),
                    int_literal(*min, false),
                    int_literal(*max, false)
                ),
            },
            Constraint::Pattern(pattern) => {
                let regex = self.pattern_const(pattern);
                let quoted = json_string(&serde_json::to_string(pattern).unwrap_or_default());
                format!("{}({regex}, {value}, {quoted})", self.rt("checkPattern"))
            }
        }
    }

    /// The module-level `RegExp` for a pattern (one per distinct pattern).
    fn pattern_const(&self, pattern: &str) -> String {
        let mut patterns = self.patterns.borrow_mut();
        if let Some(i) = patterns.iter().position(|p| p == pattern) {
            return format!("$pattern{i}");
        }
        patterns.push(pattern.to_string());
        format!("$pattern{}", patterns.len() - 1)
    }

    /// `const $patternN = new RegExp(…, "u")` for every pattern used.
    pub(super) fn patterns_code(&self) -> String {
        let mut out = String::new();
        for (i, pattern) in self.patterns.borrow().iter().enumerate() {
            // The compiler checked the pattern; its JavaScript form means the same as in Rust.
            let source = crate::pattern::check(pattern).unwrap_or_default();
            out.push_str(&format!(
                "const $pattern{i} = /* @__PURE__ */ new RegExp({}, \"u\");\n",
                json_string(&source)
            ));
        }
        out
    }
}
