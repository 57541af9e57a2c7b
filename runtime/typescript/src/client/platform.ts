/**
 * The host's globals the client uses, declared structurally so the package
 * needs neither the DOM lib nor @types/node, and looked up at call time (so
 * node:test's mock timers, which replace `globalThis.setTimeout`, apply).
 */

/** The part of the WHATWG `WebSocket` the client uses (browsers, the `ws` package). */
export interface WebSocketLike {
  binaryType: string;
  readonly protocol: string;
  addEventListener(type: string, listener: (event: unknown) => void): void;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** A `WebSocket` constructor: `globalThis.WebSocket`, or the `ws` package's in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** What the SSE transport passes to `fetch`. */
export interface FetchInit {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  /**
   * An `AbortSignal` (aborted when the transport closes). Typed `any` so that
   * the DOM's and Node's `fetch` types fit without this package needing the
   * DOM lib.
   */
  signal: any;
  cache: "no-store";
}

/** The part of a stream reader the SSE transport uses. */
export interface StreamReaderLike {
  read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
  cancel(reason?: unknown): Promise<void>;
}

/** The part of a `fetch` response the SSE transport uses. */
export interface FetchResponseLike {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: { getReader(): StreamReaderLike; cancel(reason?: unknown): Promise<void> } | null;
}

/** A `fetch` function: `globalThis.fetch` by default. */
export type FetchFunction = (url: string, init: FetchInit) => Promise<FetchResponseLike>;

interface AbortControllerLike {
  readonly signal: unknown;
  abort(): void;
}

interface StreamingDecoder {
  decode(input?: Uint8Array, options?: { stream: boolean }): string;
}

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

interface Globals {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  console?: { warn(...args: unknown[]): void };
  WebSocket?: WebSocketConstructor;
  fetch?: FetchFunction;
  AbortController: new () => AbortControllerLike;
  TextDecoder: new (label: string) => StreamingDecoder;
  document?: EventTargetLike;
  window?: EventTargetLike;
  reportError?: (error: unknown) => void;
}

function g(): Globals {
  return globalThis as unknown as Globals;
}

export function setTimer(callback: () => void, ms: number): unknown {
  return g().setTimeout(callback, ms);
}

export function clearTimer(handle: unknown): void {
  g().clearTimeout(handle);
}

export function warn(...args: unknown[]): void {
  g().console?.warn(...args);
}

/**
 * Reports an exception thrown by an application's listener without
 * unwinding the client: `reportError` where it exists (browsers: the console
 * and the window's `error` event, as an event listener's exception is),
 * else an unhandled rejection (Node reports it, and node:test fails on it).
 */
export function reportListenerError(error: unknown): void {
  const report = g().reportError;
  if (typeof report === "function") report.call(globalThis, error);
  else void Promise.reject(error);
}

export function globalWebSocket(): WebSocketConstructor | undefined {
  return g().WebSocket;
}

export function globalFetch(): FetchFunction | undefined {
  const f = g().fetch;
  // Unbound, `fetch` throws "Illegal invocation" in browsers.
  return f === undefined ? undefined : (url, init) => f.call(globalThis, url, init);
}

export function abortController(): AbortControllerLike {
  return new (g().AbortController)();
}

/** A lenient streaming UTF-8 decoder (the event-stream format replaces bad bytes with U+FFFD). */
export function streamingDecoder(): StreamingDecoder {
  return new (g().TextDecoder)("utf-8");
}

/** `document` and `window` where they exist (browsers), for `visibilitychange` and `online`. */
export function pageTargets(): { document: EventTargetLike | undefined; window: EventTargetLike | undefined } {
  const { document, window } = g();
  return {
    document: typeof document?.addEventListener === "function" ? document : undefined,
    window: typeof window?.addEventListener === "function" ? window : undefined,
  };
}
