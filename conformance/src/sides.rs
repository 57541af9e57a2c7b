//! The implementations under test: generated Rust and generated TypeScript
//! (each a child process speaking the harness protocol) and the compiler's
//! schema-driven codec (in process).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};
use tagwire::Limits;
use tagwire_compiler::Output;
use tagwire_compiler::codegen::rust::{self as rust_gen, RustOptions};
use tagwire_compiler::codegen::typescript::{self as ts_gen, TsOptions};
use tagwire_compiler::dynamic::{self, Frame, Json};
use tagwire_compiler::ir::Schema;

use crate::harness;

/// What a side said about a frame or a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Frames of an encoded value: text, binary in hex.
    Encoded { text: String, hex: String },
    /// A decoded frame as canonical JSON text (a values-file line).
    Decoded(String),
    /// Refused, with the error kind when the side reports one.
    Refused { error: String, kind: Option<String> },
}

pub enum Side {
    Process {
        name: &'static str,
        child: Child,
        stdin: ChildStdin,
        stdout: BufReader<ChildStdout>,
    },
    Dynamic {
        schema: Box<Schema>,
        package: Option<String>,
    },
}

impl Side {
    pub fn name(&self) -> &'static str {
        match self {
            Side::Process { name, .. } => name,
            Side::Dynamic { .. } => "dynamic",
        }
    }

    fn ask(&mut self, request: &str) -> Answer {
        let Side::Process {
            name,
            stdin,
            stdout,
            ..
        } = self
        else {
            unreachable!("only process sides are asked")
        };
        if writeln!(stdin, "{request}")
            .and_then(|()| stdin.flush())
            .is_err()
        {
            return refused(format!("{name} harness is gone"));
        }
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            return refused(format!("{name} harness closed its output"));
        }
        let Ok(answer) = serde_json::from_str::<Value>(&line) else {
            return refused(format!("{name} harness answered {line:?}"));
        };
        if answer["ok"] != json!(true) {
            return Answer::Refused {
                error: answer["error"].as_str().unwrap_or_default().to_owned(),
                kind: answer["kind"].as_str().map(str::to_owned),
            };
        }
        if let Some(text) = answer["json"].as_str() {
            // Re-rendered through the order- and text-preserving parser, so
            // every side's output is compared in one spelling.
            return match dynamic::parse_json(text) {
                Ok(j) => Answer::Decoded(j.render()),
                Err(e) => refused(format!("unparsable JSON {text:?}: {e}")),
            };
        }
        Answer::Encoded {
            text: answer["text"].as_str().unwrap_or_default().to_owned(),
            hex: answer["hex"].as_str().unwrap_or_default().to_owned(),
        }
    }

    /// Encodes `value` (JSON text) as message `message` v`version`.
    pub fn encode(&mut self, message: &str, version: u32, value: &Json) -> Answer {
        match self {
            Side::Dynamic { schema, package } => {
                let line = Json::Object(vec![
                    ("message".into(), Json::String(message.into())),
                    ("version".into(), Json::Number(version.to_string())),
                    ("value".into(), value.clone()),
                ])
                .render();
                match dynamic::encode_values_line(schema, package.as_deref(), &line) {
                    Ok((text, binary)) => Answer::Encoded {
                        text,
                        hex: hex(&binary),
                    },
                    Err(e) => refused(e.to_string()),
                }
            }
            Side::Process { .. } => {
                // The value's text as written: a round trip through
                // serde_json here could misround floats.
                let request = format!(
                    "{{\"op\":\"encode\",\"message\":{},\"version\":{version},\"value\":{}}}",
                    Json::String(message.into()).render(),
                    value.render()
                );
                self.ask(&request)
            }
        }
    }

    pub fn decode_text(&mut self, frame: &str) -> Answer {
        match self {
            Side::Dynamic { schema, package } => {
                dynamic_decode(schema, package.as_deref(), Frame::Text(frame))
            }
            Side::Process { .. } => {
                self.ask(&json!({"op": "decode_text", "frame": frame}).to_string())
            }
        }
    }

    pub fn decode_binary(&mut self, frame: &[u8]) -> Answer {
        match self {
            Side::Dynamic { schema, package } => {
                dynamic_decode(schema, package.as_deref(), Frame::Binary(frame))
            }
            Side::Process { .. } => {
                self.ask(&json!({"op": "decode_binary", "hex": hex(frame)}).to_string())
            }
        }
    }

    pub fn close(self) {
        if let Side::Process {
            mut child, stdin, ..
        } = self
        {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

fn refused(error: String) -> Answer {
    Answer::Refused { error, kind: None }
}

fn dynamic_decode(schema: &Schema, package: Option<&str>, frame: Frame<'_>) -> Answer {
    match dynamic::decode_frame(schema, package, frame, &Limits::default()) {
        Ok(d) => Answer::Decoded(values_line(&d.message, d.version, d.json)),
        Err(e) => Answer::Refused {
            error: e.to_string(),
            kind: Some(e.kind.as_str().to_owned()),
        },
    }
}

/// `{"message":…,"version":…,"value":…}` in canonical text.
pub fn values_line(message: &str, version: u32, value: Json) -> String {
    Json::Object(vec![
        ("message".into(), Json::String(message.into())),
        ("version".into(), Json::Number(version.to_string())),
        ("value".into(), value),
    ])
    .render()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn spawn(name: &'static str, cmd: &mut Command) -> Result<Side, String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{name}: cannot start {cmd:?}: {e}"))?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    Ok(Side::Process {
        name,
        child,
        stdin,
        stdout,
    })
}

/// [`write`] into a directory emptied first: the scratch directory outlives
/// a run, and a generated file left by an earlier one (another suite's
/// schema, or a checkout elsewhere whose runtime path it imports) would be
/// compiled with the new ones.
fn write_fresh(dir: &Path, files: &[(PathBuf, String)]) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot clear {}: {e}", dir.display())),
    }
    write(dir, files)
}

fn write(dir: &Path, files: &[(PathBuf, String)]) -> Result<(), String> {
    rust_gen::write_to(dir, files)
        .map(|_| ())
        .map_err(|e| format!("cannot write to {}: {e}", dir.display()))
}

/// Generates Rust (canonical JSON on) into a scratch crate, builds it and
/// starts its harness.
pub fn rust_side(output: &Output, root: &str, repo: &Path, scratch: &Path) -> Result<Side, String> {
    // The harness only encodes and decodes: it needs none of the
    // conversions between versions an application would write by hand.
    let mut options = RustOptions::default();
    options.canonical_json = true;
    options.codec_only = true;
    let files = rust_gen::generate_rust_files(output, &options).map_err(|e| e.to_string())?;
    let packages: Vec<String> = files
        .iter()
        .filter_map(|(p, _)| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    let dir = scratch.join("rust");
    write_fresh(&dir.join("src/gen"), &files)?;
    let runtime = repo.join("runtime/rust");
    let manifest = format!(
        "# @generated by tagwire-conformance.\n[package]\nname = \"tagwire-conformance-harness\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[dependencies]\ntagwire = {{ path = {:?}, features = [\"json\"] }}\n# float_roundtrip reads decimals exactly. No preserve_order: generated code\n# writes SPEC §8 member order itself, whatever serde_json's maps do.\nserde_json = {{ version = \"1\", features = [\"float_roundtrip\"] }}\n",
        runtime.display().to_string()
    );
    write(
        &dir,
        &[
            (PathBuf::from("Cargo.toml"), manifest),
            (
                PathBuf::from("src/main.rs"),
                harness::rust_main(&packages, root),
            ),
        ],
    )?;
    // The workspace's lock pins the same versions (and works offline).
    if !dir.join("Cargo.lock").exists()
        && let Ok(lock) = std::fs::read(repo.join("Cargo.lock"))
    {
        let _ = std::fs::write(dir.join("Cargo.lock"), lock);
    }
    let target = scratch.join("cargo-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(
        Command::new(&cargo)
            .args(["build", "--quiet", "--release", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS"),
        "building the Rust harness",
    )?;
    spawn(
        "rust",
        &mut Command::new(target.join("release/tagwire-conformance-harness")),
    )
}

/// Generates TypeScript into a scratch project, compiles it with the
/// runtime package's tsc and starts its harness under node.
pub fn ts_side(output: &Output, root: &str, repo: &Path, scratch: &Path) -> Result<Side, String> {
    let runtime_dir = repo.join("runtime/typescript");
    let tsc = runtime_dir.join("node_modules/.bin/tsc");
    if !tsc.exists() {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&runtime_dir),
            "npm ci in runtime/typescript",
        )?;
    }
    run(
        Command::new(&tsc).arg("-p").arg(&runtime_dir),
        "building the TypeScript runtime",
    )?;
    let runtime = runtime_dir.join("dist/index.js").display().to_string();
    let mut options = TsOptions::default();
    options.runtime_import = runtime.clone();
    let files = ts_gen::generate_typescript_files(output, &options).map_err(|e| e.to_string())?;
    let dir = scratch.join("ts");
    write_fresh(&dir.join("gen"), &files)?;
    let types = runtime_dir
        .join("node_modules/@types")
        .display()
        .to_string();
    let tsconfig = json!({
        "compilerOptions": {
            "target": "es2022",
            "module": "nodenext",
            "moduleResolution": "nodenext",
            "strict": true,
            "exactOptionalPropertyTypes": true,
            "noUncheckedIndexedAccess": true,
            "verbatimModuleSyntax": true,
            "skipLibCheck": true,
            "outDir": "out",
            "rootDir": ".",
            "types": ["node"],
            "typeRoots": [types],
        },
        "include": ["harness.ts", "gen/*.ts"],
    });
    write(
        &dir,
        &[
            (
                PathBuf::from("harness.ts"),
                harness::ts_harness(root, &runtime),
            ),
            (PathBuf::from("tsconfig.json"), format!("{tsconfig:#}\n")),
            (
                PathBuf::from("package.json"),
                "{ \"type\": \"module\", \"private\": true }\n".into(),
            ),
        ],
    )?;
    run(
        Command::new(&tsc).arg("-p").arg(&dir),
        "compiling the TypeScript harness",
    )?;
    spawn("ts", Command::new("node").arg(dir.join("out/harness.js")))
}
