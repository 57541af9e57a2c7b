//! The `tagwire` command line: check, lock and inspect schemas.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use tagwire_compiler::codegen::rust::{RustOptions, generate_rust_files, write_to};
use tagwire_compiler::codegen::typescript::{TsOptions, generate_typescript_files};
use tagwire_compiler::dynamic::{
    CliResult, EncodeFormat, FrameEncoding, FrameSource, cli_decode, cli_encode,
};
use tagwire_compiler::{FrontEnd, LockMode, Output, formatter, report, scaffold};

mod tap;
mod watch;

/// Tagwire schema compiler: stable 2-byte message headers, breaking-change
/// checks and code generation for realtime protocols.
#[derive(Parser, Debug)]
#[command(name = "tagwire", version, about, long_about = None)]
#[command(
    after_help = "Exit status: 0 on success, 1 when the schema has errors, 2 on usage errors."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and check schemas; fail if tagwire.lock is missing or would change.
    ///
    /// Use this in CI: like `cargo --locked`, it never writes the lock.
    Check(CommonArgs),
    /// Create or update tagwire.lock beside the schemas for additive changes.
    ///
    /// New message versions get the next free header; removed ones are kept as
    /// tombstones. A changed shape of a locked version is refused with the old
    /// and new shapes, unless --allow-breaking is given.
    Lock {
        #[command(flatten)]
        common: CommonArgs,
        /// Accept changes to locked message versions (peers built from the old lock will break).
        #[arg(long)]
        allow_breaking: bool,
    },
    /// Print every message version with its header and direction.
    ///
    /// Headers come from tagwire.lock; versions not locked yet show the header
    /// `tagwire lock` would give them. Nothing is written.
    Headers(CommonArgs),
    /// Generate code for a schema into a directory (for projects that commit generated files).
    ///
    /// Like a build script, this writes additive changes to tagwire.lock first
    /// (or, with --locked, fails when the lock would change). Build scripts
    /// should use `tagwire_compiler::Builder` instead.
    #[command(subcommand)]
    Gen(Gen),
    /// Decode frames to canonical JSON: paste a frame from the browser's DevTools.
    ///
    /// Reads the frame from the argument, or one frame per line from stdin, and
    /// prints one JSON line per frame with its message, version, header and
    /// direction. A bad frame prints the decoder's error with its position;
    /// the other lines are still decoded, and the exit status is 1.
    Decode {
        /// The schema that defines the protocol.
        #[arg(value_name = "SCHEMA")]
        schema: PathBuf,
        /// One frame; without it, frames are read from stdin, one per line.
        #[arg(value_name = "FRAME")]
        frame: Option<String>,
        /// Frames are binary, written in hex (spaces allowed).
        #[arg(long, conflicts_with = "binary_base64")]
        binary_hex: bool,
        /// Frames are binary, written in base64 (either alphabet, padding optional).
        #[arg(long)]
        binary_base64: bool,
        /// The package whose messages to decode, when the schema has several.
        #[arg(long)]
        package: Option<String>,
    },
    /// Encode values (JSON lines, SPEC.md §8) to frames, one per line.
    ///
    /// Each line is `{"message": "RenderUi", "version": 2, "value": {...}}`
    /// (version 1 when left out). Errors name the line and the JSON path.
    Encode {
        /// The schema that defines the protocol.
        #[arg(value_name = "SCHEMA")]
        schema: PathBuf,
        /// The values file; without it, values are read from stdin.
        #[arg(value_name = "VALUES")]
        values: Option<PathBuf>,
        /// Print text frames.
        #[arg(
            long,
            required_unless_present = "binary_hex",
            conflicts_with = "binary_hex"
        )]
        text: bool,
        /// Print binary frames in hex.
        #[arg(long)]
        binary_hex: bool,
        /// The package whose messages to encode, when the schema has several.
        #[arg(long)]
        package: Option<String>,
    },
    /// Watch a live server: connect as a client and print every frame received.
    ///
    /// Sends the hello of the schema's package, answers the heartbeat, sends
    /// each stdin line (the JSON lines `tagwire encode` reads; send your
    /// app's join message this way to watch a room) and prints each frame it
    /// receives: one JSON line, `{"header":"ad","message":"Delivered",
    /// "version":1,"value":{…}}` with `"room"` and `"position"` for room
    /// messages and `{"control":"drain",…}` for the runtime's own, or a table
    /// on a terminal. Runs until the server closes the connection or Ctrl-C;
    /// exit status 0 after a clean close (1000, 1001, 4001 or the tap's own),
    /// 1 on connection or protocol errors and stdin lines that could not be sent.
    Tap {
        /// The schema that defines the protocol.
        #[arg(value_name = "SCHEMA")]
        schema: PathBuf,
        /// The server's WebSocket URL (`ws://localhost:8080/ws`).
        #[arg(value_name = "URL")]
        url: String,
        /// Ask for binary frames (subprotocol `tagwire.binary`) and send stdin lines as binary.
        #[arg(long)]
        binary: bool,
        /// `json`: one JSON object per line; `table`: columns for a person;
        /// `auto`: a table on a terminal, JSON otherwise.
        #[arg(long, value_enum, default_value_t = TapFormatArg::Auto)]
        format: TapFormatArg,
        /// Print the server's pings too (they are always answered).
        #[arg(long)]
        pings: bool,
        /// Close the connection (1000) when stdin ends, instead of watching on.
        #[arg(long)]
        close_on_eof: bool,
        /// The package whose protocol to speak, when the schema has several.
        #[arg(long)]
        package: Option<String>,
    },
    /// Create a new app: a schema and its lock, a Rust server, a TypeScript page.
    ///
    /// DIR must not exist or be empty. The server crate compiles the schema in
    /// its build script; the page uses the generated TypeScript module and the
    /// `tagwire` npm runtime, bundled by esbuild. Its README says how to run it.
    New {
        /// The directory to create.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The app's name: the crate's, the schema package's (with `_` for `-`)
        /// and, with `-web`, the page's npm package's [default: DIR's name]
        #[arg(long)]
        name: Option<String>,
        /// Depend on this Tagwire checkout by path (its Rust crates and its npm
        /// runtime) instead of on released versions.
        #[arg(long, value_name = "CHECKOUT")]
        tagwire_path: Option<PathBuf>,
    },
    /// Serve the Language Server Protocol on stdin and stdout, for editors.
    ///
    /// Diagnostics as you type (with what tagwire.lock says about each edit),
    /// headers as inlay hints, hover, definitions, references, symbols,
    /// completion, rename, formatting, semantic tokens and a quick fix that
    /// turns a breaking edit into a new version. See docs/LSP.md.
    Lsp,
    /// Format schemas canonically, keeping comments.
    Fmt {
        /// Schema files to format in place.
        #[arg(required = true, value_name = "SCHEMA")]
        schemas: Vec<PathBuf>,
        /// Do not write; exit 1 and list the files that are not formatted.
        #[arg(long)]
        check: bool,
        /// Output format for diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Subcommand, Debug)]
enum Gen {
    /// Rust: one `<package>.rs` module per package, for `tagwire` (the runtime crate).
    Rust {
        #[command(flatten)]
        common: CommonArgs,
        /// Directory to write the modules to (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Derive serde's Serialize and Deserialize on every generated type.
        #[arg(long)]
        serde: bool,
        /// Fail instead of updating tagwire.lock, as `cargo --locked`.
        #[arg(long)]
        locked: bool,
        /// Generate again whenever the schema, a file it imports or a lock
        /// changes, until Ctrl-C (see docs/TYPESCRIPT.md).
        #[arg(long)]
        watch: bool,
    },
    /// TypeScript: one `<package>.ts` module per package, for the `tagwire` npm package.
    ///
    /// The modules are strict, erasable-syntax TypeScript (Node's type stripping
    /// can run them) and import only the runtime. Like `gen rust`, this creates
    /// or updates `tagwire.lock` beside the schema (and says so) unless `--locked`.
    Ts {
        #[command(flatten)]
        common: CommonArgs,
        /// Directory to write the modules to (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Module specifier to import the runtime from.
        #[arg(long, value_name = "SPECIFIER", default_value = "tagwire")]
        runtime_import: String,
        /// Fail instead of updating tagwire.lock, as `cargo --locked`.
        #[arg(long)]
        locked: bool,
        /// Generate again whenever the schema, a file it imports or a lock
        /// changes, until Ctrl-C (see docs/TYPESCRIPT.md).
        #[arg(long)]
        watch: bool,
    },
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// Root schema files; their imports are read too.
    #[arg(required = true, value_name = "SCHEMA")]
    schemas: Vec<PathBuf>,
    /// Output format: human-readable text, or JSON for editors and CI.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum TapFormatArg {
    Auto,
    Json,
    Table,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => {
            let output = front_end(&args.schemas, LockMode::Locked, false);
            finish(&output, args.format, serde_json::json!({}), || {
                eprintln!("ok: {} message versions checked", message_count(&output));
            })
        }
        Command::Lock {
            common,
            allow_breaking,
        } => {
            let output = front_end(&common.schemas, LockMode::Update, allow_breaking);
            if !output.has_errors()
                && let Err(e) = output.write_locks()
            {
                eprintln!("error: cannot write the lock file: {e}");
                return ExitCode::from(1);
            }
            let written = changed_locks(&output);
            finish(
                &output,
                common.format,
                serde_json::json!({ "written": written }),
                || {
                    if written.is_empty() {
                        eprintln!("ok: lock is up to date");
                    } else {
                        for path in &written {
                            eprintln!("wrote {path}");
                        }
                    }
                },
            )
        }
        Command::Headers(args) => {
            let output = front_end(&args.schemas, LockMode::Preview, false);
            let rows = output
                .schema
                .as_ref()
                .map(report::header_rows)
                .unwrap_or_default();
            finish(
                &output,
                args.format,
                serde_json::json!({ "headers": rows }),
                || {
                    if let Some(schema) = &output.schema {
                        // A closed pipe (`tagwire headers | head`) is not an error worth a panic.
                        let _ = write!(std::io::stdout(), "{}", report::header_table(schema));
                    }
                },
            )
        }
        Command::Fmt {
            schemas,
            check,
            format,
        } => fmt(&schemas, check, format),
        Command::Lsp => match tagwire_compiler::lsp::run() {
            Ok(true) => ExitCode::SUCCESS,
            // `exit` without `shutdown` first, or the stream closed: status 1, as the protocol asks.
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("error: tagwire lsp: {e}");
                ExitCode::from(1)
            }
        },
        Command::New {
            dir,
            name,
            tagwire_path,
        } => new(scaffold::NewProject {
            dir,
            name,
            tagwire_path,
        }),
        Command::Decode {
            schema,
            frame,
            binary_hex,
            binary_base64,
            package,
        } => {
            let output = front_end(std::slice::from_ref(&schema), LockMode::Preview, false);
            let encoding = if binary_hex {
                FrameEncoding::BinaryHex
            } else if binary_base64 {
                FrameEncoding::BinaryBase64
            } else {
                FrameEncoding::Text
            };
            let mut stdin = Vec::new();
            let source = match &frame {
                Some(frame) => FrameSource::Argument(frame),
                None => {
                    if let Err(e) = std::io::stdin().read_to_end(&mut stdin) {
                        eprintln!("error: cannot read stdin: {e}");
                        return ExitCode::from(1);
                    }
                    FrameSource::Lines(&stdin)
                }
            };
            let limits = tagwire::Limits::default();
            emit(cli_decode(
                &output,
                package.as_deref(),
                encoding,
                source,
                &limits,
            ))
        }
        Command::Encode {
            schema,
            values,
            text: _,
            binary_hex,
            package,
        } => {
            let output = front_end(std::slice::from_ref(&schema), LockMode::Preview, false);
            let input = match &values {
                Some(path) => std::fs::read(path)
                    .map_err(|e| format!("cannot read `{}`: {e}", path.display())),
                None => {
                    let mut input = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut input)
                        .map(|_| input)
                        .map_err(|e| format!("cannot read stdin: {e}"))
                }
            };
            let input = match input {
                Ok(input) => input,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            };
            let format = if binary_hex {
                EncodeFormat::BinaryHex
            } else {
                EncodeFormat::Text
            };
            emit(cli_encode(&output, package.as_deref(), format, &input))
        }
        Command::Tap {
            schema,
            url,
            binary,
            format,
            pings,
            close_on_eof,
            package,
        } => {
            let output = front_end(std::slice::from_ref(&schema), LockMode::Preview, false);
            let format = match format {
                TapFormatArg::Auto => tap::auto_format(),
                TapFormatArg::Json => tap::TapFormat::Json,
                TapFormatArg::Table => tap::TapFormat::Table,
            };
            let encoding = if binary {
                tagwire::Encoding::Binary
            } else {
                tagwire::Encoding::Text
            };
            tap::run(
                &output,
                &tap::TapArgs {
                    url,
                    package,
                    encoding,
                    format,
                    pings,
                    close_on_eof,
                },
            )
        }
        Command::Gen(Gen::Rust {
            common,
            out,
            serde,
            locked,
            watch,
        }) => generate(&common, &out, locked, watch, |output| {
            let mut options = RustOptions::default();
            options.serde = serde;
            generate_rust_files(output, &options).map_err(|e| e.to_string())
        }),
        Command::Gen(Gen::Ts {
            common,
            out,
            runtime_import,
            locked,
            watch,
        }) => generate(&common, &out, locked, watch, |output| {
            let mut options = TsOptions::default();
            options.runtime_import = runtime_import.clone();
            generate_typescript_files(output, &options).map_err(|e| e.to_string())
        }),
    }
}

/// `tagwire gen`: one run, or with `watch` a run after every change to a file
/// the last run depended on.
fn generate(
    common: &CommonArgs,
    out: &std::path::Path,
    locked: bool,
    watch: bool,
    generator: impl Fn(&Output) -> Result<Vec<(PathBuf, String)>, String>,
) -> ExitCode {
    if watch {
        watch::run(|| watch::inputs(&generate_into(common, out, locked, &generator).1))
    } else {
        generate_into(common, out, locked, &generator).0
    }
}

/// Prints what a decode or encode run produced and turns its code into the exit status.
fn emit(result: CliResult) -> ExitCode {
    let _ = std::io::stdout().write_all(result.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    eprint!("{}", result.stderr);
    ExitCode::from(result.code)
}

/// Runs the front end like a build script would (updating the lock unless
/// `locked`), then writes what `generate` makes of it under `out`. Returns
/// the exit status and the run's output.
fn generate_into(
    common: &CommonArgs,
    out: &std::path::Path,
    locked: bool,
    generate: impl FnOnce(&Output) -> Result<Vec<(PathBuf, String)>, String>,
) -> (ExitCode, Output) {
    let mode = if locked {
        LockMode::Locked
    } else {
        LockMode::Update
    };
    let output = front_end(&common.schemas, mode, false);
    let mut written = Vec::new();
    let mut locks = Vec::new();
    if !output.has_errors() {
        if let Err(e) = output.write_locks() {
            eprintln!("error: cannot write the lock file: {e}");
            return (ExitCode::from(1), output);
        }
        locks = changed_locks(&output);
        let files = match generate(&output) {
            Ok(files) => files,
            Err(e) => {
                eprintln!("error: {e}");
                return (ExitCode::from(1), output);
            }
        };
        match write_to(out, &files) {
            Ok(paths) => written = paths.iter().map(|p| relative(p)).collect(),
            Err(e) => {
                eprintln!("error: cannot write to `{}`: {e}", out.display());
                return (ExitCode::from(1), output);
            }
        }
    }
    // For tools that regenerate on change (the Vite plugin): what to watch,
    // and the diagnostics as the text form shows them.
    let inputs: Vec<String> = watch::paths(&output)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let code = finish(
        &output,
        common.format,
        serde_json::json!({
            "written": written,
            "locks": locks,
            "inputs": inputs,
            "rendered": (common.format == Format::Json).then(|| output.render_text()),
        }),
        || {
            // The lock is the schema's record of its headers: a new or
            // changed one must be committed, so say that it was written.
            for lock in &locks {
                eprintln!("wrote {lock} (the schema's headers: commit it beside the schema)");
            }
            for path in &written {
                eprintln!("wrote {path}");
            }
        },
    );
    (code, output)
}

/// The lock files this run created or changed, as the user would name them.
fn changed_locks(output: &Output) -> Vec<String> {
    output
        .locks
        .iter()
        .filter(|l| l.changed())
        .map(|l| relative(&l.path))
        .collect()
}

fn front_end(schemas: &[PathBuf], mode: LockMode, allow_breaking: bool) -> Output {
    let mut front_end = FrontEnd::new();
    for schema in schemas {
        front_end.schema(schema);
    }
    front_end
        .lock_mode(mode)
        .allow_breaking(allow_breaking)
        .run()
}

/// Paths below the working directory are shown relative to it, as the user typed them.
fn relative(path: &std::path::Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

fn message_count(output: &Output) -> usize {
    output
        .schema
        .as_ref()
        .map_or(0, |s| s.packages.iter().map(|p| p.messages.len()).sum())
}

/// Prints diagnostics (text on stderr, or one JSON object on stdout that also
/// carries `extra`) and turns them into the exit status.
fn finish(
    output: &Output,
    format: Format,
    extra: serde_json::Value,
    on_success: impl FnOnce(),
) -> ExitCode {
    match format {
        Format::Text => {
            eprint!("{}", output.render_text());
            if !output.has_errors() {
                on_success();
            }
        }
        Format::Json => {
            let mut value: serde_json::Value = serde_json::from_str(&output.render_json())
                .unwrap_or_else(|_| serde_json::json!({}));
            if let (Some(object), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra)
            {
                object.insert("ok".into(), serde_json::Value::Bool(!output.has_errors()));
                object.extend(extra);
            }
            let _ = writeln!(std::io::stdout(), "{value}");
        }
    }
    let _ = std::io::stdout().flush();
    if output.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn new(project: scaffold::NewProject) -> ExitCode {
    match scaffold::create(&project) {
        Ok(written) => {
            for path in &written {
                eprintln!("wrote {}", relative(path));
            }
            let dir = project.dir.display();
            eprintln!("created `{dir}`: run it as {dir}/README.md says");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn fmt(schemas: &[PathBuf], check: bool, format: Format) -> ExitCode {
    let mut failed = false;
    let mut unformatted = Vec::new();
    for path in schemas {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", path.display());
                failed = true;
                continue;
            }
        };
        match formatter::format_source(path, &text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                if check {
                    unformatted.push(path.display().to_string());
                } else if let Err(e) = std::fs::write(path, formatted) {
                    eprintln!("error: cannot write `{}`: {e}", path.display());
                    failed = true;
                }
            }
            Err(output) => {
                failed = true;
                match format {
                    Format::Text => eprint!("{}", output.render_text()),
                    Format::Json => println!("{}", output.render_json()),
                }
            }
        }
    }
    for path in &unformatted {
        println!("not formatted: {path}");
    }
    if failed || !unformatted.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
