//! `tagwire new DIR`: a working starting point, as `cargo new` and
//! `npm create vite` give one. A schema and its lock, a Rust server crate
//! whose build script compiles the schema, and a page that uses the
//! generated TypeScript module and the `tagwire` npm runtime, bundled by
//! esbuild.
//!
//! The files are the templates in `compiler/templates/new/` with names and
//! dependency lines filled in. The lock and the TypeScript module are not
//! templates: the compiler's own lock and TypeScript code writes them from
//! the schema it just wrote, so they always match this compiler.

use crate::codegen::typescript::{TsOptions, generate_typescript_files};
use crate::compile::FrontEnd;
use crate::lock::LockMode;
use std::fmt;
use std::path::{Path, PathBuf};

/// What `tagwire new` was asked for.
#[derive(Debug, Clone)]
pub struct NewProject {
    /// The directory to create; it must not exist, or be empty.
    pub dir: PathBuf,
    /// The crate's name (default: the directory's). The schema package is
    /// the same with `-` as `_`, the npm package `<name>-web`.
    pub name: Option<String>,
    /// A Tagwire checkout to depend on by path (its Rust crates and its npm
    /// runtime) instead of released versions.
    pub tagwire_path: Option<PathBuf>,
}

/// Why no project was written (or, for I/O errors, where writing stopped).
#[derive(Debug)]
pub struct NewError(String);

impl fmt::Display for NewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NewError {}

/// The template files, by their path in the new project.
const TEMPLATES: &[(&str, &str)] = &[
    ("README.md", include_str!("../templates/new/README.md")),
    // Not named `Cargo.toml` in the repository: `cargo package` leaves out
    // every folder that holds one, as a package of its own.
    ("Cargo.toml", include_str!("../templates/new/Cargo.toml.in")),
    ("build.rs", include_str!("../templates/new/build.rs")),
    // Not named `.gitignore` in the compiler's sources, where git would obey it.
    (".gitignore", include_str!("../templates/new/gitignore")),
    ("src/main.rs", include_str!("../templates/new/src/main.rs")),
    (
        "schema/{{package}}.schema",
        include_str!("../templates/new/schema/app.schema"),
    ),
    (
        "web/package.json",
        include_str!("../templates/new/web/package.json"),
    ),
    (
        "web/tsconfig.json",
        include_str!("../templates/new/web/tsconfig.json"),
    ),
    (
        "web/index.html",
        include_str!("../templates/new/web/index.html"),
    ),
    (
        "web/src/main.ts",
        include_str!("../templates/new/web/src/main.ts"),
    ),
];

/// Names a new project cannot take: its own dependencies' (cargo refuses a
/// package that depends on its own name).
const TAKEN_NAMES: &[&str] = &[
    "tagwire",
    "tagwire-compiler",
    "tagwire_compiler",
    "tokio",
    "axum",
];

/// Writes the project and returns the files written, the lock and the
/// generated module included. Checks the directory, the name and the
/// checkout before writing anything.
pub fn create(project: &NewProject) -> Result<Vec<PathBuf>, NewError> {
    let dir = &project.dir;
    check_dir(dir)?;
    let name = match &project.name {
        Some(name) => name.clone(),
        None => default_name(dir)?,
    };
    check_name(&name, project.name.is_some())?;
    let package = name.replace('-', "_");
    let deps = match &project.tagwire_path {
        Some(checkout) => Dependencies::path(checkout)?,
        None => Dependencies::released(),
    };
    let vars = [
        ("{{name}}", name.as_str()),
        ("{{package}}", package.as_str()),
        ("{{tagwire}}", deps.tagwire.as_str()),
        ("{{tagwire_compiler}}", deps.tagwire_compiler.as_str()),
        ("{{npm_tagwire}}", deps.npm_tagwire.as_str()),
        ("{{run_note}}", deps.run_note.as_str()),
        ("{{dependency_note}}", deps.note.as_str()),
    ];
    let fill = |template: &str| {
        vars.iter()
            .fold(template.to_string(), |text, (key, value)| {
                text.replace(key, value)
            })
    };

    // The schema goes through the front end before anything is written, so
    // a name the schema language refuses (a keyword) leaves no files behind.
    let schema_path = dir.join(format!("schema/{package}.schema"));
    let schema_text = TEMPLATES
        .iter()
        .find(|(path, _)| path.starts_with("schema/"))
        .map(|(_, text)| fill(text))
        .unwrap_or_default();
    let preview = FrontEnd::new()
        .schema_text(&schema_path, schema_text)
        .lock_mode(LockMode::Preview)
        .run();
    if preview.has_errors() {
        return Err(NewError(format!(
            "`{name}` cannot name the schema package `{package}` (choose another with --name):\n{}",
            preview.render_text()
        )));
    }

    let mut written = Vec::new();
    for (path, template) in TEMPLATES {
        let path = dir.join(fill(path));
        write(&path, &fill(template))?;
        written.push(path);
    }

    // The lock, by the same code as `tagwire lock`.
    let output = FrontEnd::new()
        .schema(&schema_path)
        .lock_mode(LockMode::Update)
        .run();
    if output.has_errors() {
        return Err(NewError(format!(
            "the new schema `{}` does not compile (a bug in `tagwire new`):\n{}",
            schema_path.display(),
            output.render_text()
        )));
    }
    output.write_locks().map_err(|e| {
        NewError(format!(
            "cannot write the lock beside `{}`: {e}",
            schema_path.display()
        ))
    })?;
    written.extend(output.locks.iter().map(|lock| lock.path.clone()));

    // The page's module, as `tagwire gen ts` writes it.
    let files = generate_typescript_files(&output, &TsOptions::default())
        .map_err(|e| NewError(format!("cannot generate TypeScript: {e}")))?;
    for (file, text) in files {
        let path = dir.join("web/src/gen").join(file);
        write(&path, &text)?;
        written.push(path);
    }
    Ok(written)
}

/// The directory must be new or empty: `tagwire new` never overwrites.
fn check_dir(dir: &Path) -> Result<(), NewError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(NewError(format!(
                    "`{}` is not empty: `tagwire new` writes a whole project and never overwrites files; \
                     give a new or empty directory",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) if dir.exists() && !dir.is_dir() => Err(NewError(format!(
            "`{}` is a file, not a directory",
            dir.display()
        ))),
        Err(e) => Err(NewError(format!("cannot read `{}`: {e}", dir.display()))),
    }
}

/// The directory's last component, as `cargo new` names a package.
fn default_name(dir: &Path) -> Result<String, NewError> {
    let absolute = std::path::absolute(dir)
        .map_err(|e| NewError(format!("cannot resolve `{}`: {e}", dir.display())))?;
    absolute
        .components()
        .next_back()
        .and_then(|c| c.as_os_str().to_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            NewError(format!(
                "cannot take a name from `{}`: pass --name",
                dir.display()
            ))
        })
}

/// A name that is at once a crate name, a schema package (after `-` → `_`)
/// and an npm package name: lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter.
fn check_name(name: &str, given: bool) -> Result<(), NewError> {
    let origin = if given {
        "--name"
    } else {
        "the directory's name (or pass --name)"
    };
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 64;
    if !valid {
        return Err(NewError(format!(
            "`{name}` cannot name the project ({origin}): use lowercase ASCII letters, digits, `-` \
             and `_`, starting with a letter, at most 64 characters"
        )));
    }
    if TAKEN_NAMES.contains(&name) {
        return Err(NewError(format!(
            "`{name}` cannot name the project ({origin}): the project depends on a crate of that name"
        )));
    }
    Ok(())
}

/// The dependency lines, and what the README says about them.
struct Dependencies {
    tagwire: String,
    tagwire_compiler: String,
    npm_tagwire: String,
    run_note: String,
    note: String,
}

impl Dependencies {
    /// Released versions: this compiler's own (`0.1` for 0.1.x).
    fn released() -> Self {
        let version = env!("CARGO_PKG_VERSION");
        let minor = version.rsplit_once('.').map_or(version, |(minor, _)| minor);
        Dependencies {
            tagwire: format!("tagwire = {{ version = \"{minor}\", features = [\"server\"] }}"),
            tagwire_compiler: format!(
                "tagwire-compiler = {{ version = \"{minor}\", default-features = false }}"
            ),
            npm_tagwire: format!("\"^{version}\""),
            run_note: String::new(),
            note: format!(
                "`Cargo.toml` depends on `tagwire` and `tagwire-compiler` {minor} from crates.io, and \
                 `web/package.json` on `tagwire` ^{version} from npm. Before Tagwire's first release, \
                 depend on a checkout instead: `tagwire new --tagwire-path <checkout>` writes path \
                 dependencies (`tagwire = {{ path = \"<checkout>/runtime/rust\", features = [\"server\"] }}`, \
                 `tagwire-compiler = {{ path = \"<checkout>/compiler\", default-features = false }}`, and \
                 `\"tagwire\": \"file:<checkout>/runtime/typescript\"`). A git dependency works for the \
                 Rust crates too: cargo finds both in the repository's workspace."
            ),
        }
    }

    /// Path dependencies on a checkout, which must look like one.
    fn path(checkout: &Path) -> Result<Self, NewError> {
        let root = std::fs::canonicalize(checkout)
            .map_err(|e| NewError(format!("--tagwire-path `{}`: {e}", checkout.display())))?;
        for part in [
            "runtime/rust/Cargo.toml",
            "compiler/Cargo.toml",
            "runtime/typescript/package.json",
        ] {
            if !root.join(part).is_file() {
                return Err(NewError(format!(
                    "--tagwire-path `{}` is not a Tagwire checkout: `{part}` is missing",
                    checkout.display()
                )));
            }
        }
        let join = |part: &str| -> Result<String, NewError> {
            let path = root.join(part);
            path.to_str().map(str::to_owned).ok_or_else(|| {
                NewError(format!(
                    "--tagwire-path: `{}` is not valid UTF-8, which Cargo.toml and package.json need",
                    path.display()
                ))
            })
        };
        let rust = join("runtime/rust")?;
        let compiler = join("compiler")?;
        let npm = join("runtime/typescript")?;
        let version = env!("CARGO_PKG_VERSION");
        let minor = version.rsplit_once('.').map_or(version, |(minor, _)| minor);
        Ok(Dependencies {
            // `toml` and `serde_json` quote the paths, whatever they hold.
            tagwire: format!(
                "# A Tagwire checkout (`tagwire new --tagwire-path`); once released: version = \"{minor}\".\n\
                 tagwire = {{ path = {}, features = [\"server\"] }}",
                toml::Value::String(rust)
            ),
            tagwire_compiler: format!(
                "tagwire-compiler = {{ path = {}, default-features = false }}",
                toml::Value::String(compiler)
            ),
            npm_tagwire: serde_json::Value::String(format!("file:{npm}")).to_string(),
            run_note: format!(
                "\nThe page depends on the checkout's npm runtime, whose `dist/` is built, not committed: \
                 build it once with `npm --prefix {npm} ci && npm --prefix {npm} run build`.\n"
            ),
            note: format!(
                "`Cargo.toml` and `web/package.json` depend on the Tagwire checkout at `{}` by path. \
                 Once Tagwire is released, replace them with `tagwire = {{ version = \"{minor}\", \
                 features = [\"server\"] }}`, `tagwire-compiler = {{ version = \"{minor}\", \
                 default-features = false }}` and `\"tagwire\": \"^{version}\"`.",
                root.display()
            ),
        })
    }
}

fn write(path: &Path, text: &str) -> Result<(), NewError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| NewError(format!("cannot create `{}`: {e}", parent.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| NewError(format!("cannot write `{}`: {e}", path.display())))
}
