// vite-plugin-tagwire: `tagwire gen ts` as part of Vite's build, and again
// in dev whenever a schema, one of its imports or a lock changes.
//
// The compiler does the work and says what it read: `tagwire gen ts
// --format json` prints the files written, every input of the run (the
// schemas, their imports, missing ones included, and the locks) and its
// diagnostics rendered as `tagwire check` prints them. The plugin only runs
// it, watches those inputs through Vite's own watcher and reports.

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Plugin, ResolvedConfig, ViteDevServer } from 'vite';

export interface TagwireOptions {
  /** Root schema file(s), relative to Vite's `root`; their imports are read too. */
  schema: string | string[];
  /** Folder for the generated modules (one `<package>.ts` per package), relative to `root`. */
  out: string;
  /** The `tagwire` binary; default: `tagwire` on the PATH. */
  tagwire?: string;
  /** More arguments for `tagwire gen ts`, e.g. `['--locked']` in CI or `['--runtime-import', '…']`. */
  args?: string[];
}

/** What one `tagwire gen ts --format json` run said. */
export interface GenRun {
  ok: boolean;
  /** The modules written (unchanged ones too), as the compiler names them. */
  written: string[];
  /** The lock files the run created or changed, as the compiler names them. */
  locks: string[];
  /** Every file the run depended on, absolute. */
  inputs: string[];
  /** The diagnostics as `tagwire check` prints them; empty when there are none. */
  rendered: string;
}

const NAME = 'vite-plugin-tagwire';

/** A burst of file events (an editor's save) settles this long before a run. */
const SETTLE_MS = 50;

export default function tagwire(options: TagwireOptions): Plugin {
  const schemas = typeof options.schema === 'string' ? [options.schema] : options.schema;
  if (schemas.length === 0) {
    throw new Error(`${NAME}: \`schema\` names no schema file`);
  }
  const binary = options.tagwire ?? 'tagwire';
  const args = ['gen', 'ts', ...schemas, '--out', options.out, '--format', 'json', ...(options.args ?? [])];

  let config: ResolvedConfig | undefined;
  let server: ViteDevServer | undefined;
  let outDir = '';
  /** The last run's inputs, as Vite's watcher names files. */
  let inputs = new Set<string>();
  /** The locks the last run wrote, with what it wrote: their events are its own. */
  let ownLocks = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  /** Inputs with events not yet weighed. */
  const pending = new Set<string>();
  let closed = false;

  const gen = async (): Promise<GenRun> => {
    const root = config?.root ?? process.cwd();
    const run = await runTagwire(binary, args, root);
    inputs = new Set(run.inputs.map(watchKey));
    ownLocks = new Map();
    for (const lock of run.locks) {
      const file = path.resolve(root, lock);
      ownLocks.set(watchKey(file), await readFile(file, 'utf8').catch(() => ''));
    }
    // Inputs outside the root (a shared schema folder) are not watched by
    // Vite on its own; adding watched ones again is harmless.
    server?.watcher.add(run.inputs);
    return run;
  };

  /** Generates, then reloads the page (`reload`) or shows the errors. */
  const regenerate = async (reload: boolean): Promise<void> => {
    if (server === undefined) return;
    const logger = server.config.logger;
    let run: GenRun;
    try {
      run = await gen();
    } catch (e) {
      if (!closed) report(server, e instanceof Error ? e.message : String(e), undefined);
      return;
    }
    if (closed) return;
    if (!run.ok) {
      report(server, 'the schema has errors', run.rendered);
      return;
    }
    if (run.rendered !== '') logger.warn(run.rendered, { timestamp: true });
    logger.info(`tagwire: generated ${run.written.join(', ')}`, { timestamp: true });
    if (reload) server.ws.send({ type: 'full-reload', path: '*' });
  };

  /** Whether one of `files` holds something the last run did not leave
   *  there: the lock a run writes is one of its inputs, and its own write is
   *  no reason for another run. */
  const changed = async (files: string[]): Promise<boolean> => {
    for (const file of files) {
      const own = ownLocks.get(file);
      if (own === undefined) return true;
      const now = await readFile(file, 'utf8').catch(() => undefined);
      if (now !== own) return true;
    }
    return false;
  };

  /** Runs `regenerate` once a burst of events settles, one run at a time;
   *  events during a run are weighed after it, against what it wrote. */
  const schedule = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (running !== undefined || pending.size === 0) return;
      void start(
        (async () => {
          while (pending.size > 0 && !closed) {
            const files = [...pending];
            pending.clear();
            if (await changed(files)) await regenerate(true);
          }
        })(),
      );
    }, SETTLE_MS);
  };

  /** Marks `run` as the one running; events that came during a run which
   *  did not weigh them (the first) are weighed after it. */
  const start = (run: Promise<void>): Promise<void> => {
    running = run.finally(() => {
      running = undefined;
      if (pending.size > 0 && !closed) schedule();
    });
    return running;
  };

  return {
    name: NAME,

    configResolved(resolved) {
      config = resolved;
      outDir = watchKey(path.resolve(resolved.root, options.out));
    },

    configureServer(devServer) {
      server = devServer;
      const onEvent = (file: string): void => {
        const key = watchKey(file);
        if (!inputs.has(key)) return;
        pending.add(key);
        schedule();
      };
      devServer.watcher.on('change', onEvent);
      devServer.watcher.on('add', onEvent);
      devServer.watcher.on('unlink', onEvent);
    },

    async buildStart() {
      if (config?.command !== 'serve') {
        let run: GenRun;
        try {
          run = await gen();
        } catch (e) {
          this.error(e instanceof Error ? e.message : String(e));
        }
        if (!run.ok) this.error(`tagwire gen ts failed:\n${run.rendered}`);
        if (run.rendered !== '') this.warn(run.rendered);
        return;
      }
      // In dev, a broken schema must not stop the server: the overlay shows
      // it until a fix regenerates.
      if (server !== undefined && running === undefined) await start(regenerate(false));
    },

    // The generated modules change together at the end of a run, which then
    // reloads the page once: Vite's own update per written module could
    // reload it while half of them are new.
    handleHotUpdate({ file }) {
      const key = watchKey(file);
      if (outDir !== '' && (key === outDir || key.startsWith(`${outDir}/`))) return [];
      return undefined;
    },

    closeBundle() {
      if (config?.command !== 'serve') return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

/** Logs a failure and shows it in the browser's error overlay. */
function report(server: ViteDevServer, message: string, rendered: string | undefined): void {
  server.config.logger.error(`tagwire: ${message}${rendered === undefined ? '' : `\n${rendered}`}`, {
    timestamp: true,
  });
  server.ws.send({
    type: 'error',
    err: {
      message: `tagwire: ${message}`,
      stack: '',
      plugin: NAME,
      ...(rendered === undefined ? {} : { frame: rendered }),
    },
  });
}

/** A path as Vite's watcher reports it: absolute, with `/` on every platform. */
function watchKey(file: string): string {
  return path.resolve(file).split(path.sep).join('/');
}

/** Runs `tagwire` and reads its JSON report; rejects when there is none
 *  (not found, a usage error), with what it printed. */
export function runTagwire(binary: string, args: string[], cwd: string): Promise<GenRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (e) => {
      reject(
        new Error(
          `cannot run \`${binary}\` (${e.message}): install it with \`cargo install tagwire-compiler --features cli\` or name it in the plugin's \`tagwire\` option`,
        ),
      );
    });
    child.on('close', (code) => {
      const text = Buffer.concat(stdout).toString('utf8');
      const run = parseRun(text);
      if (run === undefined) {
        const said = Buffer.concat(stderr).toString('utf8');
        reject(new Error(`\`${binary} ${args.join(' ')}\` failed (exit status ${String(code)}):\n${said}`));
        return;
      }
      resolve(run);
    });
  });
}

function parseRun(text: string): GenRun | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const strings = (v: unknown): string[] | undefined =>
    Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined;
  const ok = record['ok'];
  const written = strings(record['written']);
  const locks = strings(record['locks']);
  const inputs = strings(record['inputs']);
  const rendered = record['rendered'];
  if (typeof ok !== 'boolean' || written === undefined || locks === undefined || inputs === undefined || typeof rendered !== 'string') {
    return undefined;
  }
  return { ok, written, locks, inputs, rendered };
}
