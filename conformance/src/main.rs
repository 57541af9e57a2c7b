//! The cross-language conformance runner (docs/SPEC.md).
//!
//! ```text
//! cargo run -p tagwire-conformance -- --schema PATH --values PATH [--invalid PATH] [--refused PATH] [--sides rust,ts,dynamic]
//! cargo run -p tagwire-conformance -- generate --schema PATH --seed N --count N
//! ```
//!
//! For any valid schema it generates Rust (with canonical JSON) into a
//! scratch crate under `target/conformance/` and builds it, generates
//! TypeScript into a scratch project there and compiles it with the runtime
//! package's tsc, and uses the compiler's schema-driven codec in process.
//! Then, for every line of the values file, every side encodes the value
//! (text and binary) and the frames must be byte-identical; every side
//! decodes those frames and the canonical JSON must equal the input,
//! canonicalised. Every line of the invalid file (a text frame; `hex:` and a
//! binary frame in hex; or `json:` and a text frame as a JSON string, for
//! frames holding CR or LF) must be rejected by every side, with the same
//! error kind. In the invalid file, `# expect: KIND [PATH]` makes the
//! lines after it expect that kind (and, for `constraint_violation`, a
//! message naming that field path). Every line of the refused file (values
//! lines with a `path` member) must be refused by every side's encoder, with
//! an error naming the path (SPEC §6.4: encoders refuse what breaks a constraint).
//!
//! Prints one line per failed check, then `N passed, M failed` alone on the
//! last line; exits 1 on any failure, 2 when it cannot run.

mod generate;
mod harness;
mod sides;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sides::{Answer, Side};
use tagwire_compiler::dynamic::{self, Json};
use tagwire_compiler::ir::Schema;
use tagwire_compiler::{FrontEnd, LockMode, Output};

const USAGE: &str = "usage: tagwire-conformance --schema PATH --values PATH [--invalid PATH] [--refused PATH] [--sides rust,ts,dynamic]
       tagwire-conformance generate --schema PATH [--seed N] [--count N]";

const ALL_SIDES: &str = "rust,ts,dynamic";

struct Args {
    generate: bool,
    schema: Option<PathBuf>,
    values: Option<PathBuf>,
    invalid: Option<PathBuf>,
    refused: Option<PathBuf>,
    sides: String,
    seed: u64,
    count: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        generate: false,
        schema: None,
        values: None,
        invalid: None,
        refused: None,
        sides: std::env::var("TAGWIRE_CONFORMANCE_SIDES").unwrap_or_else(|_| ALL_SIDES.into()),
        seed: 1,
        count: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "generate" => args.generate = true,
            "--schema" => args.schema = Some(value("--schema")?.into()),
            "--values" => args.values = Some(value("--values")?.into()),
            "--invalid" => args.invalid = Some(value("--invalid")?.into()),
            "--refused" => args.refused = Some(value("--refused")?.into()),
            "--sides" => args.sides = value("--sides")?,
            "--seed" => {
                args.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?;
            }
            "--count" => {
                args.count = value("--count")?
                    .parse()
                    .map_err(|e| format!("--count: {e}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn front_end(schema: &Path) -> Result<Output, String> {
    let output = FrontEnd::new()
        .schema(schema)
        .lock_mode(LockMode::Preview)
        .run();
    if output.has_errors() || output.schema.is_none() {
        return Err(format!("the schema has errors:\n{}", output.render_text()));
    }
    Ok(output)
}

/// The workspace root (this crate's parent folder).
fn repo_root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    dir.parent().unwrap_or(dir).to_path_buf()
}

fn run(args: &Args) -> Result<bool, String> {
    let schema_path = args.schema.as_ref().ok_or("--schema is required")?;
    let output = front_end(schema_path)?;
    let schema = output.schema.as_ref().ok_or("no schema")?;
    let package = dynamic::pick_package(schema, None)?;
    if args.generate {
        let mut generator = generate::Generator::new(schema, args.seed);
        for _ in 0..args.count {
            match generator.line(package) {
                Some(line) => println!("{line}"),
                None => return Err(format!("package {} has no messages", package.name)),
            }
        }
        return Ok(true);
    }
    let values_path = args.values.as_ref().ok_or("--values is required")?;
    let values = std::fs::read_to_string(values_path)
        .map_err(|e| format!("cannot read {}: {e}", values_path.display()))?;
    let refused = match &args.refused {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?
        }
        None => String::new(),
    };
    let invalid = match &args.invalid {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?
        }
        None => String::new(),
    };

    let repo = repo_root();
    let scratch = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo.join("target"), PathBuf::from)
        .join("conformance");
    let scratch = if scratch.is_absolute() {
        scratch
    } else {
        repo.join(scratch)
    };
    let mut sides = Vec::new();
    for name in args
        .sides
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        sides.push(match name {
            "rust" => sides::rust_side(&output, &package.name, &repo, &scratch)?,
            "ts" => sides::ts_side(&output, &package.name, &repo, &scratch)?,
            "dynamic" => Side::Dynamic {
                schema: Box::new(schema.clone()),
                package: Some(package.name.clone()),
            },
            other => return Err(format!("unknown side `{other}` (sides: {ALL_SIDES})")),
        });
    }
    if sides.is_empty() {
        return Err("no sides to run".into());
    }
    let names: Vec<&str> = sides.iter().map(Side::name).collect();
    eprintln!("conformance sides: {}", names.join(", "));

    let mut tally = Tally::default();
    for (i, line) in values.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        check_value(schema, &package.name, &mut sides, i + 1, line, &mut tally);
    }
    let mut expect: Option<(String, Option<String>)> = None;
    for (i, line) in invalid.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("# expect:") {
            let mut words = rest.split_whitespace();
            expect = words
                .next()
                .map(|kind| (kind.to_owned(), words.next().map(str::to_owned)));
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        check_invalid(&mut sides, i + 1, line, expect.as_ref(), &mut tally);
    }
    for (i, line) in refused.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        check_refused(&mut sides, i + 1, line, &mut tally);
    }
    for side in sides {
        side.close();
    }
    for (side, n, first) in &tally.order_only {
        eprintln!(
            "note: {side} wrote {n} decoded value(s) whose object members are not in SPEC §8 order \
             (counted as passed: same members and values); first: {first}"
        );
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(tally.failed == 0)
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    /// Per side: decoded JSON equal to the expected one except for the
    /// order of object members, and the first such case.
    order_only: Vec<(&'static str, usize, String)>,
}

/// The JSON text with every object's members sorted by key, so that two
/// values differing only in member order compare equal.
fn sorted(text: &str) -> String {
    fn sort(j: Json) -> Json {
        match j {
            Json::Array(items) => Json::Array(items.into_iter().map(sort).collect()),
            Json::Object(members) => {
                let mut members: Vec<(String, Json)> =
                    members.into_iter().map(|(k, v)| (k, sort(v))).collect();
                members.sort_by(|a, b| a.0.cmp(&b.0));
                Json::Object(members)
            }
            other => other,
        }
    }
    dynamic::parse_json(text).map_or_else(|_| text.to_owned(), |j| sort(j).render())
}

impl Tally {
    fn order_only(&mut self, side: &'static str, what: &str, json: &str) {
        match self.order_only.iter_mut().find(|(s, ..)| *s == side) {
            Some((_, n, _)) => *n += 1,
            None => self
                .order_only
                .push((side, 1, format!("{what}: {}", short(json)))),
        }
    }

    fn pass(&mut self) {
        self.passed += 1;
    }
    fn fail(&mut self, what: &str, side: &str, difference: &str) {
        self.failed += 1;
        println!("FAIL {what} [{side}]: {difference}");
    }
}

fn short(text: &str) -> String {
    const MAX: usize = 300;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// The most common of `items` (ties: the first seen), to blame the odd side.
fn majority<'a>(items: &[&'a str]) -> Option<&'a str> {
    let mut best: Option<(&str, usize)> = None;
    for item in items {
        let n = items.iter().filter(|x| *x == item).count();
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((item, n));
        }
    }
    best.map(|(s, _)| s)
}

/// The input line, parsed: message, version, value and its canonical JSON.
fn canonical_input(
    schema: &Schema,
    package: &str,
    line: &str,
) -> Result<(String, u32, Json, String), String> {
    let json = dynamic::parse_json(line)?;
    let Json::Object(members) = &json else {
        return Err("a values line is an object".into());
    };
    let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let Some(Json::String(message)) = get("message") else {
        return Err("missing message".into());
    };
    let version = match get("version") {
        None | Some(Json::Null) => 1,
        Some(Json::Number(n)) => n.parse().map_err(|_| format!("bad version {n}"))?,
        Some(_) => return Err("bad version".into()),
    };
    let value = get("value").cloned().ok_or("missing value")?;
    let pkg = dynamic::pick_package(schema, Some(package))?;
    let m = dynamic::find_message(pkg, message, version).map_err(|e| e.to_string())?;
    let owner = format!("{message} v{version}");
    let fields = dynamic::fields_from_json(schema, &owner, &m.fields, &value, "value")
        .map_err(|e| e.to_string())?;
    let canonical = sides::values_line(
        message,
        version,
        dynamic::fields_json(schema, &m.fields, &fields),
    );
    Ok((message.clone(), version, value, canonical))
}

fn check_value(
    schema: &Schema,
    package: &str,
    sides: &mut [Side],
    line_no: usize,
    line: &str,
    tally: &mut Tally,
) {
    let what = format!("value line {line_no} {}", short(line));
    let (message, version, value, expected) = match canonical_input(schema, package, line) {
        Ok(x) => x,
        Err(e) => {
            tally.fail(&what, "input", &format!("not a valid value: {e}"));
            return;
        }
    };
    let mut frames: Vec<(&'static str, String, String)> = Vec::new();
    for side in sides.iter_mut() {
        match side.encode(&message, version, &value) {
            Answer::Encoded { text, hex } => frames.push((side.name(), text, hex)),
            other => {
                tally.fail(&what, side.name(), &format!("encode failed: {other:?}"));
                tally.fail(&what, side.name(), "(no binary frame either)");
            }
        }
    }
    let texts: Vec<&str> = frames.iter().map(|(_, t, _)| t.as_str()).collect();
    let hexes: Vec<&str> = frames.iter().map(|(_, _, h)| h.as_str()).collect();
    let (Some(text), Some(hex)) = (majority(&texts), majority(&hexes)) else {
        return;
    };
    let (text, hex) = (text.to_owned(), hex.to_owned());
    for (side, t, h) in &frames {
        if *t == text {
            tally.pass();
        } else {
            tally.fail(
                &what,
                side,
                &format!(
                    "text frame {} differs from the others' {}",
                    short(t),
                    short(&text)
                ),
            );
        }
        if *h == hex {
            tally.pass();
        } else {
            tally.fail(
                &what,
                side,
                &format!(
                    "binary frame {} differs from the others' {}",
                    short(h),
                    short(&hex)
                ),
            );
        }
    }
    let binary = sides::unhex(&hex).unwrap_or_default();
    for side in sides.iter_mut() {
        for (kind, answer) in [
            ("text", side.decode_text(&text)),
            ("binary", side.decode_binary(&binary)),
        ] {
            match answer {
                Answer::Decoded(json) if json == expected => tally.pass(),
                Answer::Decoded(json) if sorted(&json) == sorted(&expected) => {
                    tally.pass();
                    tally.order_only(side.name(), &what, &json);
                }
                Answer::Decoded(json) => tally.fail(
                    &what,
                    side.name(),
                    &format!(
                        "decoding the {kind} frame gives {} but the input is {}",
                        short(&json),
                        short(&expected)
                    ),
                ),
                other => tally.fail(
                    &what,
                    side.name(),
                    &format!("decoding the {kind} frame failed: {other:?}"),
                ),
            }
        }
    }
}

enum Invalid {
    Text(String),
    Binary(Vec<u8>),
}

/// A value every encoder must refuse, naming the path of the value at fault.
fn check_refused(sides: &mut [Side], line_no: usize, line: &str, tally: &mut Tally) {
    let what = format!("refused line {line_no} {}", short(line));
    let Ok(Json::Object(members)) = dynamic::parse_json(line) else {
        tally.fail(&what, "input", "not a JSON object");
        return;
    };
    let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let (Some(Json::String(message)), Some(value), Some(Json::String(path))) =
        (get("message"), get("value"), get("path"))
    else {
        tally.fail(&what, "input", "needs message, value and path");
        return;
    };
    let version = match get("version") {
        Some(Json::Number(n)) => n.parse().unwrap_or(0),
        _ => 1,
    };
    for side in sides.iter_mut() {
        match side.encode(message, version, value) {
            Answer::Refused { error, .. } if error.contains(&format!("{path}: ")) => tally.pass(),
            Answer::Refused { error, .. } => tally.fail(
                &what,
                side.name(),
                &format!("refused, but the error does not name `{path}`: {error}"),
            ),
            other => tally.fail(&what, side.name(), &format!("encoded: {other:?}")),
        }
    }
}

fn check_invalid(
    sides: &mut [Side],
    line_no: usize,
    line: &str,
    expect: Option<&(String, Option<String>)>,
    tally: &mut Tally,
) {
    let what = format!("invalid line {line_no} {}", short(line));
    let frame = if let Some(h) = line.strip_prefix("hex:") {
        let h: String = h.chars().filter(|c| !c.is_whitespace()).collect();
        match sides::unhex(&h) {
            Some(b) => Invalid::Binary(b),
            None => {
                tally.fail(&what, "input", "not hex");
                return;
            }
        }
    } else if let Some(j) = line.strip_prefix("json:") {
        match serde_json::from_str::<String>(j) {
            Ok(s) => Invalid::Text(s),
            Err(e) => {
                tally.fail(&what, "input", &format!("not a JSON string: {e}"));
                return;
            }
        }
    } else {
        Invalid::Text(line.to_owned())
    };
    let mut kinds: Vec<(&'static str, String)> = Vec::new();
    for side in sides.iter_mut() {
        let answer = match &frame {
            Invalid::Text(t) => side.decode_text(t),
            Invalid::Binary(b) => side.decode_binary(b),
        };
        match answer {
            Answer::Refused { kind, error } => {
                let kind = kind.unwrap_or_else(|| "?".into());
                match expect {
                    Some((wanted, _)) if *wanted != kind => tally.fail(
                        &what,
                        side.name(),
                        &format!("rejects with {kind}, expected {wanted}"),
                    ),
                    Some((_, Some(path))) if !error.contains(&format!("{path}: ")) => tally.fail(
                        &what,
                        side.name(),
                        &format!("the error does not name `{path}`: {error}"),
                    ),
                    _ => tally.pass(),
                }
                kinds.push((side.name(), kind));
            }
            other => tally.fail(&what, side.name(), &format!("accepted: {other:?}")),
        }
    }
    let all: Vec<&str> = kinds.iter().map(|(_, k)| k.as_str()).collect();
    if let Some(common) = majority(&all) {
        for (side, kind) in &kinds {
            if kind != common {
                tally.fail(
                    &what,
                    side,
                    &format!("rejects with {kind}, the others with {common}"),
                );
            }
        }
    }
}
