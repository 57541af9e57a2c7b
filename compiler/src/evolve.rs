//! Conversions between versions of one message (docs/SCHEMA.md "Evolving a
//! protocol"): which steps the runtime walks, and which of them the compiler
//! can generate.
//!
//! - A **downgrade** step goes from a version the server may send to the
//!   previous version the server may send (the highest lower version of the
//!   same name whose direction is `server` or `both`). The runtime walks these
//!   down until it reaches a version an older client knows.
//! - An **upgrade** step goes from a version a client may send to the next
//!   version a client may send (the lowest higher version whose direction is
//!   `client` or `both`). The runtime walks these up so the handler sees only
//!   the newest version.
//!
//! A step is generated when every field of the target can be filled in from
//! the source without losing meaning ([`FieldSource`]); otherwise the
//! application implements it, and generated code calls the trait anyway so a
//! missing impl is a compile error.

use crate::ir::{Checks, DefaultValue, Field, MessageVersion, Package, Type};

/// Which way a step goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Newer to older, for a peer that does not know the newer version.
    Down,
    /// Older to newer, for the server's handler.
    Up,
}

/// How one field of the step's target is filled in.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldSource {
    /// The source's field of the same name and type.
    Same,
    /// The source's `T` field into the target's `T?` (`Some`).
    WrapSome,
    /// Absent from the source, optional in the target (`None`).
    Absent,
    /// Absent from the source, with this declared default (upgrades only).
    Default(DefaultValue),
}

/// One conversion between two versions of a message.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub way: Way,
    pub from: &'a MessageVersion,
    pub to: &'a MessageVersion,
    /// `Ok`: generated, one source per field of `to`, in its order. `Err`: the
    /// application supplies it; why, one line per field that prevents it.
    pub plan: Result<Vec<(&'a Field, FieldSource)>, Vec<String>>,
}

impl Step<'_> {
    /// The compiler generates this step. Only tests ask: the generators
    /// match on `plan` themselves.
    #[cfg(test)]
    pub fn is_generated(&self) -> bool {
        self.plan.is_ok()
    }
}

/// Every step of a package, in message declaration order.
#[derive(Debug, Clone, Default)]
pub struct Conversions<'a> {
    /// One per server-sendable version that has a previous server-sendable version.
    pub downgrades: Vec<Step<'a>>,
    /// One per client-sendable version that has a next client-sendable version.
    pub upgrades: Vec<Step<'a>>,
}

impl<'a> Conversions<'a> {
    /// The step down from `message`, if it has one. Only tests ask: the
    /// generators walk `downgrades` in order.
    #[cfg(test)]
    pub fn downgrade_from(&self, message: &MessageVersion) -> Option<&Step<'a>> {
        self.downgrades.iter().find(|s| same(s.from, message))
    }

    /// The step up from `message`, if it has one.
    pub fn upgrade_from(&self, message: &MessageVersion) -> Option<&Step<'a>> {
        self.upgrades.iter().find(|s| same(s.from, message))
    }
}

fn same(a: &MessageVersion, b: &MessageVersion) -> bool {
    a.name == b.name && a.version == b.version
}

/// The downgrade and upgrade steps of `package`.
pub fn analyze(package: &Package) -> Conversions<'_> {
    let mut out = Conversions::default();
    for message in &package.messages {
        if message.direction.server_sends() {
            let previous = package
                .messages
                .iter()
                .filter(|m| m.name == message.name && m.version < message.version)
                .filter(|m| m.direction.server_sends())
                .max_by_key(|m| m.version);
            if let Some(previous) = previous {
                out.downgrades.push(step(Way::Down, message, previous));
            }
        }
        if message.direction.client_sends() {
            let next = package
                .messages
                .iter()
                .filter(|m| m.name == message.name && m.version > message.version)
                .filter(|m| m.direction.client_sends())
                .min_by_key(|m| m.version);
            if let Some(next) = next {
                out.upgrades.push(step(Way::Up, message, next));
            }
        }
    }
    out
}

fn step<'a>(way: Way, from: &'a MessageVersion, to: &'a MessageVersion) -> Step<'a> {
    let mut plan = Vec::with_capacity(to.fields.len());
    let mut problems = Vec::new();
    for field in &to.fields {
        match source(way, from, field) {
            Ok(source) => plan.push((field, source)),
            Err(problem) => problems.push(problem),
        }
    }
    Step {
        way,
        from,
        to,
        plan: if problems.is_empty() {
            Ok(plan)
        } else {
            Err(problems)
        },
    }
}

/// How `target` (a field of the step's target) is filled in from `from`.
fn source(way: Way, from: &MessageVersion, target: &Field) -> Result<FieldSource, String> {
    let describe = crate::check::constraints::describe;
    let name = &target.name;
    let Some(field) = from.fields.iter().find(|f| f.name == target.name) else {
        if matches!(target.ty, Type::Optional(_)) {
            return Ok(FieldSource::Absent);
        }
        if way == Way::Up
            && let Some(default) = &target.default
        {
            return Ok(FieldSource::Default(default.clone()));
        }
        return Err(match way {
            Way::Down => format!("`{name}` is not in the newer version and is not optional"),
            Way::Up => format!(
                "`{name}` is new, and neither optional nor given a default (`{name}: {} = …`)",
                describe(&target.ty)
            ),
        });
    };
    if field.ty == target.ty && field.checks == target.checks {
        return Ok(FieldSource::Same);
    }
    if let Type::Optional(inner) = &target.ty
        && **inner == field.ty
        // An optional's checks are those of the value inside it, so `T` and
        // `T?` with the same constraints have equal checks.
        && field.checks == target.checks
    {
        return Ok(FieldSource::WrapSome);
    }
    if field.ty == target.ty || optional_of(&target.ty, &field.ty) {
        return Err(format!(
            "`{name}` has different constraints ({} → {})",
            constraints_text(&field.checks),
            constraints_text(&target.checks)
        ));
    }
    Err(format!(
        "`{name}` changes type: `{}` → `{}`",
        describe(&field.ty),
        describe(&target.ty)
    ))
}

/// `a` is `b?`.
fn optional_of(a: &Type, b: &Type) -> bool {
    matches!(a, Type::Optional(inner) if **inner == *b)
}

fn constraints_text(checks: &Checks) -> String {
    if checks.is_empty() {
        return "none".to_string();
    }
    let mut parts: Vec<String> = checks.own.iter().map(ToString::to_string).collect();
    for (what, inner) in [
        ("elements", &checks.element),
        ("keys", &checks.key),
        ("values", &checks.value),
    ] {
        if let Some(inner) = inner {
            parts.push(format!("{what} {}", constraints_text(inner)));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::FrontEnd;
    use crate::lock::LockMode;

    /// Checks `text` as package `p` (no lock is read or written).
    fn package(text: &str) -> Package {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.schema");
        std::fs::write(&path, format!("package p;\n{text}")).expect("write schema");
        let output = FrontEnd::new()
            .schema(&path)
            .lock_mode(LockMode::Preview)
            .run();
        assert!(!output.has_errors(), "{}", output.render_text());
        let schema = output.schema.expect("schema");
        schema.packages.into_iter().next().expect("one package")
    }

    /// `(from, to, generated)` for each step, as `Name vN`.
    fn steps(steps: &[Step<'_>]) -> Vec<(String, String, bool)> {
        steps
            .iter()
            .map(|s| {
                (
                    format!("{} v{}", s.from.name, s.from.version),
                    format!("{} v{}", s.to.name, s.to.version),
                    s.is_generated(),
                )
            })
            .collect()
    }

    fn row(from: &str, to: &str, generated: bool) -> (String, String, bool) {
        (from.to_string(), to.to_string(), generated)
    }

    fn problems(step: &Step<'_>) -> Vec<String> {
        step.plan.clone().err().unwrap_or_default()
    }

    /// Each field of a generated step's target, with where its value comes from.
    fn sources<'s>(step: &'s Step<'_>) -> Vec<(&'s str, FieldSource)> {
        step.plan
            .as_ref()
            .expect("generated")
            .iter()
            .map(|(f, s)| (f.name.as_str(), s.clone()))
            .collect()
    }

    #[test]
    fn downgrade_rules_a_b_c() {
        let p = package(
            "message Post from server { room: string, body: string, tag: u8? }\n\
             message Post v2 from server { room: string, body: string @len(..=10), extra: [u8], flag: bool }\n\
             message Post v3 from server { room: string, body: string @len(..=10), extra: [u8] }",
        );
        let c = analyze(&p);
        // v2 → v1: room (a), body has a constraint v1 lacks (refused), tag (c).
        // v3 → v2: every v2 field is in v3 except `flag`, which is not optional.
        assert_eq!(
            steps(&c.downgrades),
            [
                row("Post v2", "Post v1", false),
                row("Post v3", "Post v2", false)
            ]
        );
        assert_eq!(
            problems(&c.downgrades[0]),
            ["`body` has different constraints (@len(..=10) → none)"]
        );
        assert_eq!(
            problems(&c.downgrades[1]),
            ["`flag` is not in the newer version and is not optional"]
        );
        assert!(c.upgrades.is_empty());

        let p = package(
            "message Post from server { room: string, note: string?, tag: u8? }\n\
             message Post v2 from server { room: string, note: string, body: string }",
        );
        let c = analyze(&p);
        assert_eq!(
            sources(&c.downgrades[0]),
            [
                ("room", FieldSource::Same),
                ("note", FieldSource::WrapSome),
                ("tag", FieldSource::Absent),
            ]
        );
    }

    #[test]
    fn a_downgrade_never_assumes_an_optional_is_present() {
        let p = package(
            "message Post from server { note: string }\n\
             message Post v2 from server { note: string? }",
        );
        let c = analyze(&p);
        assert_eq!(
            problems(&c.downgrades[0]),
            ["`note` changes type: `string?` → `string`"]
        );
    }

    #[test]
    fn upgrade_rules_a_b_c_and_defaults() {
        let p = package(
            "enum Mood { calm, happy }\n\
             message Say from client { room: string, body: string }\n\
             message Say v2 from client { room: string, body: string?, mood: Mood = calm, reply_to: u64?, level: u8 = 3 }",
        );
        let c = analyze(&p);
        assert_eq!(steps(&c.upgrades), [row("Say v1", "Say v2", true)]);
        assert_eq!(
            sources(&c.upgrades[0]),
            [
                ("room", FieldSource::Same),
                ("body", FieldSource::WrapSome),
                (
                    "mood",
                    FieldSource::Default(DefaultValue::Enum("calm".into()))
                ),
                ("reply_to", FieldSource::Absent),
                ("level", FieldSource::Default(DefaultValue::Int(3))),
            ]
        );
        assert!(c.downgrades.is_empty());
    }

    #[test]
    fn an_upgrade_needs_a_default_or_an_optional_for_new_fields() {
        let p = package(
            "message Say from client { room: string }\n\
             message Say v2 from client { room: string, body: string }",
        );
        let c = analyze(&p);
        assert_eq!(steps(&c.upgrades), [row("Say v1", "Say v2", false)]);
        assert_eq!(
            problems(&c.upgrades[0]),
            ["`body` is new, and neither optional nor given a default (`body: string = …`)"]
        );
    }

    #[test]
    fn defaults_do_not_help_a_downgrade() {
        // Design rule: a downgrade fills only from the newer version or with `None`.
        let p = package(
            "message Post from server { room: string, level: u8 = 3 }\n\
             message Post v2 from server { room: string }",
        );
        assert!(!analyze(&p).downgrades[0].is_generated());
    }

    #[test]
    fn type_changes_need_the_application() {
        let p = package(
            "message Count { n: u32 }\n\
             message Count v2 { n: u64 }",
        );
        let c = analyze(&p);
        assert_eq!(steps(&c.downgrades), [row("Count v2", "Count v1", false)]);
        assert_eq!(steps(&c.upgrades), [row("Count v1", "Count v2", false)]);
        assert_eq!(
            problems(&c.downgrades[0]),
            ["`n` changes type: `u64` → `u32`"]
        );
        assert_eq!(
            problems(&c.upgrades[0]),
            ["`n` changes type: `u32` → `u64`"]
        );
    }

    #[test]
    fn constraint_differences_need_the_application_both_ways() {
        let p = package(
            "message Name { name: string @len(1..=10) }\n\
             message Name v2 { name: string @len(1..=20) }",
        );
        let c = analyze(&p);
        assert!(!c.downgrades[0].is_generated());
        assert!(!c.upgrades[0].is_generated());
        assert_eq!(
            problems(&c.upgrades[0]),
            ["`name` has different constraints (@len(1..=10) → @len(1..=20))"]
        );
        // The same constraints on `T` and `T?` are the same checks.
        let p = package(
            "message Name { name: string @len(1..=10) }\n\
             message Name v2 { name: string? @len(1..=10) }",
        );
        assert!(analyze(&p).upgrades[0].is_generated());
    }

    #[test]
    fn direction_both_takes_part_in_both_walks() {
        let p = package(
            "message Note from client { a: u8 }\n\
             message Note v2 from server { a: u8 }\n\
             message Note v3 { a: u8, b: u8? }\n\
             message Note v4 from server { a: u8, b: u8? }",
        );
        let c = analyze(&p);
        // Server-sendable: v2, v3, v4. Client-sendable: v1, v3.
        assert_eq!(
            steps(&c.downgrades),
            [
                row("Note v3", "Note v2", true),
                row("Note v4", "Note v3", true)
            ]
        );
        assert_eq!(steps(&c.upgrades), [row("Note v1", "Note v3", true)]);
        let v3 = &p.messages[2];
        assert_eq!(c.downgrade_from(v3).map(|s| s.to.version), Some(2));
        assert!(c.upgrade_from(v3).is_none());
    }

    #[test]
    fn gaps_in_version_numbers_are_skipped() {
        let p = package(
            "message Ping from server { a: u8 }\n\
             message Ping v5 from server { a: u8, b: string }\n\
             message Ping v3 from server { a: u8 }\n\
             message Pong from client { a: u8 }\n\
             message Pong v7 from client { a: u8, b: bool = false }",
        );
        let c = analyze(&p);
        assert_eq!(
            steps(&c.downgrades),
            [
                row("Ping v5", "Ping v3", true),
                row("Ping v3", "Ping v1", true)
            ]
        );
        assert_eq!(steps(&c.upgrades), [row("Pong v1", "Pong v7", true)]);
    }

    #[test]
    fn a_single_version_has_no_steps() {
        let p = package("message Ping { a: u8 }\nmessage Pong from client { }");
        let c = analyze(&p);
        assert!(c.downgrades.is_empty() && c.upgrades.is_empty());
    }
}
