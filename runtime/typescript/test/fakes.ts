// Test doubles for the client: a package, a WebSocket the test drives by
// hand, an SSE server behind a fake fetch, and page event targets.
import type { TestContext } from "node:test";
import {
  connect,
  TextReader,
  TextWriter,
  BinaryReader,
  BinaryWriter,
  DEFAULT_LIMITS,
  encodeControlBinary,
  encodeControlText,
  type Client,
  type ClientOptions,
  type Control,
  type FetchInit,
  type FetchResponseLike,
  type Limits,
  type Package,
  type Reader,
  type Writer,
} from "tagwire";

/** Server → client: `aa|text`. Client → server: `ab|text`. */
export interface Note {
  text: string;
}

function read(r: Reader, header: string): Note {
  if (r.header !== header) throw r.unknownHeader();
  const note = { text: r.string() };
  r.finish();
  return note;
}

function write<W extends Writer & { finish(): T }, T>(w: W, n: Note): T {
  w.str(n.text);
  return w.finish();
}

export const FINGERPRINT = "00112233445566aa";

export const TestPackage: Package<Note, Note> = {
  name: "test",
  fingerprint: FINGERPRINT,
  headers: ["aa", "ab"],
  encodeClientText: (m) => write(new TextWriter("ab"), m),
  encodeClientBinary: (m) => write(new BinaryWriter("ab"), m),
  decodeServerText: (frame, limits: Limits = DEFAULT_LIMITS) => read(new TextReader(frame, limits), "aa"),
  decodeServerBinary: (frame, limits: Limits = DEFAULT_LIMITS) => read(new BinaryReader(frame, limits), "aa"),
};

export const note = (text: string): string => write(new TextWriter("aa"), { text });
export const clientNote = (text: string): string => write(new TextWriter("ab"), { text });
export const noteBinary = (text: string): Uint8Array => write(new BinaryWriter("aa"), { text });

export const HELLO_TEXT = `_c|test|${FINGERPRINT}|aaab`;
export const ctl = (c: Control): string => encodeControlText(c);
export const ctlBinary = (c: Control): Uint8Array => encodeControlBinary(c);
export const PING = "_a";
export const PONG = "_b";
export const welcome = (fingerprint = FINGERPRINT, pingIntervalMs = 30_000): string =>
  ctl({ type: "welcome", value: { package: "test", fingerprint, pingIntervalMs } });
export const drain = (reason: string, windowMs: number, backoffMultiplier: number): string =>
  ctl({ type: "drain", value: { reason, windowMs, backoffMultiplier } });

type Listener = (event: unknown) => void;

/** A WebSocket whose server side the test plays. */
export class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  readonly url: string;
  readonly protocols: string | string[] | undefined;
  binaryType = "blob";
  protocol = "";
  sent: (string | Uint8Array)[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | undefined;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(url: string, protocols?: string | string[]) {
    this.url = url;
    this.protocols = protocols;
    FakeWebSocket.instances.push(this);
  }

  static last(): FakeWebSocket {
    const ws = FakeWebSocket.instances.at(-1);
    if (ws === undefined) throw new Error("no WebSocket was created");
    return ws;
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  private dispatch(type: string, event: unknown): void {
    for (const l of this.listeners.get(type) ?? []) l(event);
  }

  send(data: string | Uint8Array): void {
    if (this.closedWith !== undefined) throw new Error("send on a closed WebSocket");
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
  }

  /** Text frames sent, binary ones as `bin:<header>`. */
  get sentText(): string[] {
    return this.sent.map((f) => (typeof f === "string" ? f : `bin:${String.fromCharCode(f[0] ?? 0, f[1] ?? 0)}`));
  }

  // The server's side.
  accept(): void {
    this.protocol = Array.isArray(this.protocols) ? (this.protocols[0] ?? "") : (this.protocols ?? "");
    this.dispatch("open", {});
  }
  receive(data: string | Uint8Array): void {
    this.dispatch("message", { data: typeof data === "string" ? data : data.slice().buffer });
  }
  serverClose(code: number, reason = ""): void {
    this.dispatch("close", { code, reason, wasClean: true });
  }
  /** The upgrade is refused (a proxy's 403) or the connection drops: error, then close 1006. */
  drop(message = "Unexpected server response: 403"): void {
    this.dispatch("error", { message });
    this.dispatch("close", { code: 1006, reason: "" });
  }
}

/** An SSE server behind a fake `fetch`: one event stream at a time, POST bodies recorded. */
export class FakeSse {
  gets: string[] = [];
  posts: { url: string; body: string }[] = [];
  /** Status of the next GETs (200 opens a stream). */
  getStatus = 200;
  /** Headers of the next refused GETs (a 503's `Retry-After`). */
  getHeaders: Record<string, string> = {};
  /** Status of the next POSTs. */
  postStatus = 204;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;

  readonly fetch = (url: string, init: FetchInit): Promise<FetchResponseLike> => {
    const signal = init.signal as AbortSignal;
    if (init.method === "POST") {
      this.posts.push({ url, body: init.body ?? "" });
      return Promise.resolve(new Response(null, { status: this.postStatus }));
    }
    this.gets.push(url);
    if (this.getStatus !== 200) {
      return Promise.resolve(new Response("refused", { status: this.getStatus, headers: this.getHeaders }));
    }
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
      },
    });
    const controller = this.controller;
    signal.addEventListener("abort", () => {
      try {
        controller?.error(new Error("aborted"));
      } catch {
        // already closed
      }
    });
    return Promise.resolve(new Response(stream, { status: 200, headers: { "content-type": "text/event-stream" } }));
  };

  /** Writes raw event-stream text to the open stream. */
  write(text: string): void {
    if (this.controller === undefined) throw new Error("no open event stream");
    this.controller.enqueue(new TextEncoder().encode(text));
  }
  session(token = "0123456789abcdef0123456789abcdef"): void {
    this.write(`event: session\ndata: ${token}\n\n`);
  }
  private id = 0;
  frame(frame: string): void {
    this.id += 1;
    this.write(`id: ${this.id}\ndata: ${frame}\n\n`);
  }
  close(code: number, reason: string): void {
    this.write(`event: close\ndata: ${code}|${reason}\n\n`);
    this.end();
  }
  end(): void {
    this.controller?.close();
    this.controller = undefined;
  }
  /** Every frame POSTed, in order. */
  get sent(): string[] {
    return this.posts.flatMap((p) => p.body.split("\n"));
  }
}

/** `document` and `window` stand-ins, installed on globalThis for one test. */
export function installPage(): { document: EventTarget; window: EventTarget; remove(): void } {
  const g = globalThis as Record<string, unknown>;
  const document = new EventTarget();
  const window = new EventTarget();
  g["document"] = document;
  g["window"] = window;
  return {
    document,
    window,
    remove() {
      delete g["document"];
      delete g["window"];
    },
  };
}

/** Where the client tests' mock clock starts. */
export const T0 = 1_700_000_000_000;
/** `random` returning the top of [0, 1): every jittered delay is its ceiling. */
export const TOP = (): number => 0.999_999_9;

/**
 * A client of {@link TestPackage} under node:test's mock timers (setTimeout
 * and Date, from {@link T0}), over a fresh set of {@link FakeWebSocket}s with
 * the top `random`, closed when the test ends; `options` add to or override
 * those.
 */
export function connectFake(t: TestContext, options: ClientOptions = {}): Client<Note, Note> {
  return connectFakeWith(t, TestPackage, options);
}

/** As {@link connectFake}, for another package. */
export function connectFakeWith<S, C, P extends S = never>(t: TestContext, pkg: Package<S, C, P>, options: ClientOptions = {}): Client<S, C, P> {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: T0 });
  FakeWebSocket.instances = [];
  const client = connect("ws://test/ws", pkg, {
    WebSocket: FakeWebSocket,
    transport: "websocket",
    random: TOP,
    ...options,
  });
  t.after(() => client.close());
  return client;
}

/** Opens the newest WebSocket and has the server speak first (welcome), as a real one does. */
export function accept(): FakeWebSocket {
  const ws = FakeWebSocket.last();
  ws.accept();
  ws.receive(welcome());
  return ws;
}

/** Lets promises and I/O callbacks settle (setImmediate is not mocked). */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
