//! A TypeScript script of `tests/typescript/test/` compiled, with the
//! TypeScript runtime (`runtime/typescript`, the `tagwire` package) and the
//! generated modules it imports, into a scratch project, for Rust tests that
//! run the TypeScript client in a real Node.js process against Rust servers.
//!
//! The layout matches tests/typescript's (the script imports
//! `../generated/<package>.js` and `tagwire`), so run.sh type-checks the same
//! file under the same strict settings; here the declarations of the runtime
//! and of Node are not checked again (`skipLibCheck`: it triples the time).
//! Node 20 and npm are needed; the runtime's `npm ci` runs when its
//! `node_modules` is missing, its `tsc` when `dist/` is older than its sources.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// A compiled script, ready to run under node.
#[derive(Debug, Clone)]
pub struct NodeScript {
    js: PathBuf,
    flags: Vec<&'static str>,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// When `path` (a file, or the newest file under a directory) last changed.
fn modified(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|entry| modified(&entry.ok()?.path()))
        .max()
}

/// Whether the runtime's `dist/` is newer than its sources and settings
/// (tsc takes seconds, and the runtime changes far less often than tests run).
fn built(runtime: &Path) -> bool {
    let Some(dist) = modified(&runtime.join("dist/index.js")) else {
        return false;
    };
    ["src", "tsconfig.json", "tsconfig.base.json", "package.json"]
        .iter()
        .all(|source| modified(&runtime.join(source)).is_some_and(|at| at < dist))
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (node 20+ and npm are needed)"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl NodeScript {
    /// Compiles `tests/typescript/test/{name}.ts` in `scratch` (emptied
    /// first) with `generated`, the modules `tagwire gen ts` writes (paths
    /// relative to its output directory), under `generated/`.
    ///
    /// # Panics
    ///
    /// When npm, tsc or node fail, with their output.
    #[must_use]
    pub fn build(scratch: &Path, name: &str, generated: &[(PathBuf, String)]) -> NodeScript {
        let runtime = repo().join("runtime/typescript");
        let tsc = runtime.join("node_modules/.bin/tsc");
        if !tsc.exists() {
            run(
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&runtime),
                "npm ci in runtime/typescript",
            );
        }
        if !built(&runtime) {
            run(
                Command::new(&tsc).arg("-p").arg(&runtime),
                "building the TypeScript runtime (tsc -p runtime/typescript)",
            );
        }

        let _ = std::fs::remove_dir_all(scratch);
        let write = |path: PathBuf, text: &str| {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
            }
            std::fs::write(&path, text)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        };
        for (path, code) in generated {
            write(scratch.join("generated").join(path), code);
        }
        let source = repo().join(format!("tests/typescript/test/{name}.ts"));
        let script = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));
        write(scratch.join(format!("test/{name}.ts")), &script);
        write(
            scratch.join("package.json"),
            "{ \"type\": \"module\", \"private\": true }\n",
        );
        // The script imports the runtime as its users do, by package name.
        std::fs::create_dir_all(scratch.join("node_modules"))
            .unwrap_or_else(|e| panic!("creating node_modules: {e}"));
        std::os::unix::fs::symlink(&runtime, scratch.join("node_modules/tagwire"))
            .unwrap_or_else(|e| panic!("linking the tagwire package: {e}"));
        let tsconfig = format!(
            r#"{{
  "extends": "{base}",
  "compilerOptions": {{
    "rootDir": ".",
    "outDir": "dist",
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "skipLibCheck": true,
    "types": ["node"],
    "typeRoots": ["{types}"]
  }},
  "include": ["generated", "test"]
}}
"#,
            base = runtime.join("tsconfig.base.json").display(),
            types = runtime.join("node_modules/@types").display(),
        );
        write(scratch.join("tsconfig.json"), &tsconfig);
        run(
            Command::new(&tsc).arg("-p").arg(scratch),
            &format!("compiling {name}.ts"),
        );

        // Node 20 has the WHATWG WebSocket behind a flag; later ones without.
        let has_websocket = Command::new("node")
            .args([
                "-e",
                "process.exit(typeof WebSocket === 'function' ? 0 : 1)",
            ])
            .status()
            .unwrap_or_else(|e| panic!("running node: {e} (node 20+ is needed)"))
            .success();
        NodeScript {
            js: scratch.join(format!("dist/test/{name}.js")),
            flags: if has_websocket {
                Vec::new()
            } else {
                vec!["--experimental-websocket"]
            },
        }
    }

    /// `node [flags] SCRIPT.js`: add the script's arguments.
    #[must_use]
    pub fn command(&self) -> Command {
        let mut command = Command::new("node");
        command.args(&self.flags).arg(&self.js);
        command
    }
}
