// The VS Code side of Tagwire: highlighting comes from the grammar in the
// manifest; everything else (diagnostics, headers, formatting, …) from the
// compiler's language server, `tagwire lsp`, spoken to over stdio.
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { LanguageClient, type LanguageClientOptions, type ServerOptions, TransportKind } from "vscode-languageclient/node";
import {
  LANGUAGE_ID,
  RESTART_COMMAND,
  RESTART_SECTION,
  SECTION,
  SETTINGS,
  SettingError,
  findExecutable,
  serverLaunch,
} from "./config";

interface Running {
  client: LanguageClient;
  watcher: vscode.FileSystemWatcher;
}

let running: Running | undefined;
// Starts and stops run one after another: a setting changed twice in a row,
// or a restart asked for while the server is still starting, must not leave
// two servers behind.
let queue: Promise<void> = Promise.resolve();

function enqueue(job: () => Promise<void>): Promise<void> {
  queue = queue.then(job, job);
  return queue;
}

export function activate(context: vscode.ExtensionContext): Promise<void> {
  // One channel for the whole session, so a restart keeps the earlier log.
  const output = vscode.window.createOutputChannel("Tagwire Language Server", { log: true });
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand(RESTART_COMMAND, () => enqueue(() => restart(output))),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(RESTART_SECTION)) void enqueue(() => restart(output));
    }),
  );
  return enqueue(() => start(output));
}

export function deactivate(): Promise<void> {
  return enqueue(stop);
}

async function restart(output: vscode.LogOutputChannel): Promise<void> {
  await stop();
  await start(output);
}

async function start(output: vscode.LogOutputChannel): Promise<void> {
  const settings = vscode.workspace.getConfiguration(SECTION);
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  let launch;
  try {
    launch = serverLaunch(settings.get<unknown>(SETTINGS.serverPath), settings.get<unknown>(SETTINGS.extraArgs), {
      workspaceFolder: folder,
      home: os.homedir(),
    });
  } catch (error) {
    if (!(error instanceof SettingError)) throw error;
    offerSettings(`Tagwire: ${error.message}.`);
    return;
  }
  if (findExecutable(launch.command, process.env) === undefined) {
    const where = path.isAbsolute(launch.command) ? `${launch.command} is not an executable file` : `\`${launch.command}\` is not on PATH`;
    output.error(`not starting the language server: ${where}`);
    offerSettings(
      `Tagwire: ${where}, so there is no language server (highlighting still works). ` +
        `Install the CLI (\`cargo install --path compiler --features cli\` in a Tagwire checkout) or set ${SECTION}.${SETTINGS.serverPath}.`,
    );
    return;
  }

  const serverOptions: ServerOptions = {
    command: launch.command,
    args: launch.args,
    transport: TransportKind.stdio,
    // Relative paths the server prints or reads mean the same as in a terminal at the folder.
    ...(folder === undefined ? {} : { options: { cwd: folder } }),
  };
  // The server re-checks schemas when a lock or an imported schema changes on disk.
  const watcher = vscode.workspace.createFileSystemWatcher("**/{*.schema,tagwire.lock}");
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: LANGUAGE_ID },
      { scheme: "untitled", language: LANGUAGE_ID },
    ],
    synchronize: { fileEvents: watcher },
    outputChannel: output,
  };
  const client = new LanguageClient(SECTION, "Tagwire Language Server", serverOptions, clientOptions);
  try {
    await client.start();
    running = { client, watcher };
  } catch (error) {
    watcher.dispose();
    await client.dispose().catch(() => undefined);
    // The client has shown and logged why; the log also gets the command line.
    output.error(`could not start \`${[launch.command, ...launch.args].join(" ")}\`: ${describe(error)}`);
  }
}

async function stop(): Promise<void> {
  const current = running;
  running = undefined;
  if (current === undefined) return;
  current.watcher.dispose();
  // A server that does not answer `shutdown` within 2 s is killed rather than waited for.
  await current.client.dispose(2000).catch(() => undefined);
}

/** An error message with a button to the extension's settings; not awaited, so it never holds up the queue. */
function offerSettings(message: string): void {
  void vscode.window.showErrorMessage(message, "Open Settings").then((choice) => {
    if (choice !== undefined) void vscode.commands.executeCommand("workbench.action.openSettings", RESTART_SECTION);
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
