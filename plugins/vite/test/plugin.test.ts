// The plugin in a real Vite: a production build of a small page, and a dev
// server whose HMR client (a real WebSocket) is told to reload when a schema
// changes. The compiler is the real `tagwire` binary: TAGWIRE_BIN, or the
// repository's target/debug/tagwire (`cargo build --bin tagwire`).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build, createServer, type InlineConfig } from 'vite';
import WebSocket from 'ws';
import tagwire from '../src/index.js';

// This file runs from dist-test/test/.
const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const repo = path.resolve(pkg, '../..');
const TAGWIRE = process.env['TAGWIRE_BIN'] ?? path.join(repo, 'target/debug/tagwire');
/** Each wait for the plugin gives up after this long instead of hanging. */
const DEADLINE_MS = 15_000;

/** A fresh copy of test/fixture (a page, a schema importing another). */
async function fixture(t: TestContext): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vite-plugin-tagwire-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.cp(path.join(pkg, 'test/fixture'), dir, { recursive: true });
  return dir;
}

function config(root: string): InlineConfig {
  return {
    root,
    configFile: false,
    logLevel: 'silent',
    // The page imports the runtime as an app does (`tagwire`); here it is the
    // repository's own, from its sources.
    resolve: { alias: { tagwire: path.join(repo, 'runtime/typescript/src/index.ts') } },
    plugins: [tagwire({ schema: 'app.schema', out: 'src/generated', tagwire: TAGWIRE })],
  };
}

/** What `tagwire check` prints for the schema as it is now (it must fail). */
function checkSays(root: string): string {
  const run = spawnSync(TAGWIRE, ['check', 'app.schema'], { cwd: root, encoding: 'utf8' });
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /error\[E\d+\]/);
  return run.stderr.trimEnd();
}

function constant(source: string, name: string): string {
  const match = new RegExp(`export const ${name} = "([^"]+)";`).exec(source);
  assert.ok(match?.[1] !== undefined, `${name} in\n${source}`);
  return match[1];
}

test('vite build bundles the generated modules and fails on a broken schema', async (t) => {
  const root = await fixture(t);
  await build({ ...config(root), build: { outDir: 'dist', minify: false } });

  const app = await fs.readFile(path.join(root, 'src/generated/app.ts'), 'utf8');
  const geometry = await fs.readFile(path.join(root, 'src/generated/geometry.ts'), 'utf8');
  assert.match(geometry, /export function writePoint/, 'the import is generated too');
  const assets = path.join(root, 'dist/assets');
  const scripts = (await fs.readdir(assets)).filter((f) => f.endsWith('.js'));
  assert.equal(scripts.length, 1, scripts.join(', '));
  const bundle = await fs.readFile(path.join(assets, scripts[0] ?? ''), 'utf8');
  assert.ok(bundle.includes(constant(app, 'PROTOCOL_FINGERPRINT')), 'the generated fingerprint');
  assert.ok(bundle.includes(`"${constant(app, 'MOVE_V1')}"`), "Move's header");
  assert.match(bundle, /function writePoint/, 'the imported package');
  assert.match(bundle, /new TextWriter\(/, 'the runtime');

  await fs.appendFile(path.join(root, 'app.schema'), 'message Broken from client {\n');
  const expected = checkSays(root);
  await assert.rejects(build({ ...config(root), build: { outDir: 'dist', minify: false } }), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.ok(e.message.includes(expected), `the compiler's message:\n${expected}\nin:\n${e.message}`);
    return true;
  });
});

/** A real HMR client: Vite's WebSocket, its messages queued as they come. */
class HmrClient {
  private readonly messages: Record<string, unknown>[] = [];
  private wake: (() => void) | undefined;

  readonly socket: WebSocket;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data: Buffer) => {
      this.messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>);
      this.wake?.();
    });
  }

  static async connect(url: string): Promise<HmrClient> {
    const socket = new WebSocket(url, 'vite-hmr');
    const client = new HmrClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  /** Asserts that nothing more comes within `ms`: the one negative wait. */
  async quiet(ms: number, what: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    assert.deepEqual(this.messages, [], what);
  }

  /** The next message, which must be of `type`: one change, one message. */
  async next(type: string, what: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const message = this.messages.shift();
      if (message !== undefined) {
        assert.equal(message['type'], type, `for ${what}: ${JSON.stringify(message)}`);
        return message;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        assert.fail(`no ${type} message for ${what} within ${DEADLINE_MS} ms; got ${JSON.stringify(this.messages)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

test('vite dev regenerates on a change of the schema or its import, reloads, and shows errors', async (t) => {
  const root = await fixture(t);
  const server = await createServer({ ...config(root), server: { host: '127.0.0.1', port: 0 } });
  t.after(() => server.close());
  await server.listen();
  const { port } = server.httpServer?.address() as AddressInfo;
  const app = path.join(root, 'src/generated/app.ts');
  assert.match(await fs.readFile(app, 'utf8'), /HELLO_V1/, 'generated when the server starts');

  const hmr = await HmrClient.connect(`ws://127.0.0.1:${port}/?token=${server.config.webSocketToken}`);
  t.after(() => hmr.socket.close());
  await hmr.next('connected', 'the connection');

  // The root schema.
  const schema = path.join(root, 'app.schema');
  const original = await fs.readFile(schema, 'utf8');
  await fs.writeFile(schema, `${original}\nmessage Leave from client { reason: string }\n`);
  await hmr.next('full-reload', 'a change of the root schema');
  assert.match(await fs.readFile(app, 'utf8'), /LEAVE_V1/);
  // That run wrote the lock, an input too: its own write is no change, so
  // no second run and no second reload (8 times the plugin's settling time).
  await hmr.quiet(400, 'one change, one reload');

  // The imported schema.
  const geometry = path.join(root, 'shared/geometry.schema');
  await fs.appendFile(geometry, '\nstruct Size { w: u32, h: u32 }\n');
  await hmr.next('full-reload', 'a change of the imported schema');
  assert.match(await fs.readFile(path.join(root, 'src/generated/geometry.ts'), 'utf8'), /interface Size/);

  // A syntax error: the overlay shows what `tagwire check` says, and the
  // server keeps serving.
  await fs.appendFile(schema, 'message Broken from client {\n');
  const error = await hmr.next('error', 'the broken schema');
  const err = error['err'] as Record<string, unknown>;
  assert.equal(err['plugin'], 'vite-plugin-tagwire');
  assert.equal(typeof err['frame'], 'string');
  assert.ok(String(err['frame']).includes(checkSays(root)), String(err['frame']));
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(page.status, 200);

  // Fixed: generated again, and reloaded.
  await fs.writeFile(schema, `${original}\nmessage Stay from client { minutes: u32 }\n`);
  await hmr.next('full-reload', 'the fix');
  assert.match(await fs.readFile(app, 'utf8'), /STAY_V1/);
});
