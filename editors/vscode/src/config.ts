// What the extension reads from its settings and how it turns them into the
// `tagwire lsp` command line. Kept free of the `vscode` module so node:test
// runs it as it is.
import { accessSync, constants, statSync } from "node:fs";
import * as path from "node:path";

/** The language id of `.schema` files, as `contributes.languages` declares it. */
export const LANGUAGE_ID = "tagwire";
/**
 * The settings' section, and the language client's id: vscode-languageclient
 * follows `<id>.trace.server` by itself, so tracing changes need no restart.
 */
export const SECTION = "tagwire";
export const SETTINGS = {
  serverPath: "server.path",
  extraArgs: "server.extraArgs",
  trace: "trace.server",
} as const;
/** Changing a setting under this prefix restarts the server. */
export const RESTART_SECTION = `${SECTION}.server`;
export const RESTART_COMMAND = "tagwire.restartServer";
/** Found on PATH, as `cargo install --path compiler --features cli` leaves it. */
export const DEFAULT_SERVER_PATH = "tagwire";

export interface Launch {
  command: string;
  args: string[];
}

export interface LaunchContext {
  /** The first workspace folder's path, if a folder is open. */
  workspaceFolder: string | undefined;
  home: string;
}

/** A setting's value that cannot start a server; the message says which and why. */
export class SettingError extends Error {}

/**
 * The command line for `tagwire lsp` from the raw setting values (whatever
 * the user wrote in settings.json, so not trusted to have the declared types).
 */
export function serverLaunch(serverPath: unknown, extraArgs: unknown, context: LaunchContext): Launch {
  if (serverPath !== undefined && serverPath !== null && typeof serverPath !== "string") {
    throw new SettingError(`${SECTION}.${SETTINGS.serverPath} must be a string, not ${JSON.stringify(serverPath)}`);
  }
  const written = (serverPath ?? "").trim();
  let command = expand(written === "" ? DEFAULT_SERVER_PATH : written, context);
  // `./target/debug/tagwire` means the folder's build, not one relative to
  // wherever VS Code happened to start.
  if (hasSeparator(command) && !path.isAbsolute(command)) {
    if (context.workspaceFolder === undefined) {
      throw new SettingError(`${SECTION}.${SETTINGS.serverPath} is the relative path ${command}, but no folder is open`);
    }
    command = path.resolve(context.workspaceFolder, command);
  }

  if (extraArgs !== undefined && extraArgs !== null && !Array.isArray(extraArgs)) {
    throw new SettingError(`${SECTION}.${SETTINGS.extraArgs} must be a list of strings, not ${JSON.stringify(extraArgs)}`);
  }
  const args: string[] = [];
  for (const arg of (extraArgs ?? []) as unknown[]) {
    if (typeof arg !== "string") {
      throw new SettingError(`${SECTION}.${SETTINGS.extraArgs} must be a list of strings; ${JSON.stringify(arg)} is not one`);
    }
    args.push(arg);
  }
  return { command, args: ["lsp", ...args] };
}

/**
 * Where `command` runs from: itself when it names a path, else the first
 * match on PATH (with PATHEXT's extensions on Windows), as a shell finds it.
 * `undefined` when there is nothing to run, so the extension can say so
 * plainly instead of the language client's generic spawn error.
 */
export function findExecutable(
  command: string,
  env: { PATH?: string | undefined; PATHEXT?: string | undefined },
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  const windows = platform === "win32";
  const extensions = (env.PATHEXT ?? ".COM;.EXE;.BAT;.CMD").split(";").filter((e) => e !== "");
  // Windows runs `tagwire` as `tagwire.exe` (or another PATHEXT extension);
  // a name that has an extension already is taken as written.
  const candidates = (base: string): string[] =>
    windows && path.extname(base) === "" ? extensions.map((ext) => base + ext) : [base];
  if (hasSeparator(command, platform)) return candidates(command).find((c) => isExecutable(c, windows));
  for (const dir of (env.PATH ?? "").split(windows ? ";" : ":")) {
    if (dir === "") continue;
    const found = candidates(path.join(dir, command)).find((c) => isExecutable(c, windows));
    if (found !== undefined) return found;
  }
  return undefined;
}

function isExecutable(file: string, windows: boolean): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    // Windows has no execute bit: an existing file with a PATHEXT extension runs.
    if (!windows) accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function hasSeparator(command: string, platform: NodeJS.Platform = process.platform): boolean {
  return command.includes("/") || (platform === "win32" && command.includes("\\"));
}

/** `~/…`, `${userHome}` and `${workspaceFolder}`, the forms VS Code users write in paths. */
function expand(path: string, context: LaunchContext): string {
  let out = path;
  if (out === "~" || out.startsWith("~/")) out = context.home + out.slice(1);
  out = out.replaceAll("${userHome}", context.home);
  if (out.includes("${workspaceFolder}")) {
    if (context.workspaceFolder === undefined) {
      throw new SettingError(`${SECTION}.${SETTINGS.serverPath} uses \${workspaceFolder}, but no folder is open`);
    }
    out = out.replaceAll("${workspaceFolder}", context.workspaceFolder);
  }
  return out;
}
