/**
 * The Server-Sent Events fallback (SPEC §9.5): `GET <sseUrl>` streams the
 * server's frames, `POST <sseUrl>/<token>` carries the client's. Built on
 * `fetch` and a streaming body reader with its own `text/event-stream`
 * parser, not `EventSource`, which reconnects by itself (the client's
 * backoff decides that) and does not exist in Node.
 */

import { abortController, streamingDecoder, type FetchFunction, type FetchResponseLike } from "./platform.js";
import type { Transport, TransportEnd, TransportHandlers } from "./transport.js";

/** One dispatched event of an event stream. */
export interface SseEvent {
  /** The `event:` field, `"message"` when absent. */
  type: string;
  /** The `data:` lines joined with LF. */
  data: string;
  /** The last `id:` seen in the stream so far (the spec's last event ID). */
  id: string;
}

/**
 * An incremental `text/event-stream` parser (the WHATWG HTML "event stream
 * interpretation"): feed it decoded text in chunks split anywhere; lines end
 * with CRLF, LF or CR; `:` lines are comments; a blank line dispatches.
 */
export class SseParser {
  private buffer = "";
  /** The previous chunk ended with CR: an LF starting the next one belongs to it. */
  private skipLf = false;
  private first = true;
  private type = "";
  private data: string[] = [];
  private lastId = "";

  /** Parses `chunk`; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.skipLf && text.length > 0) {
      if (text.charCodeAt(0) === 0x0a) text = text.slice(1);
      this.skipLf = false;
    }
    const events: SseEvent[] = [];
    let buffer = this.buffer + text;
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c !== 0x0a && c !== 0x0d) continue;
      this.line(buffer.slice(start, i), events);
      if (c === 0x0d) {
        if (i + 1 < buffer.length) {
          if (buffer.charCodeAt(i + 1) === 0x0a) i++;
        } else {
          this.skipLf = true;
        }
      }
      start = i + 1;
    }
    buffer = buffer.slice(start);
    this.buffer = buffer;
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0) {
        events.push({ type: this.type === "" ? "message" : this.type, data: this.data.join("\n"), id: this.lastId });
      }
      this.type = "";
      this.data = [];
      return;
    }
    if (line.charCodeAt(0) === 0x3a) return; // ":" comment
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    switch (name) {
      case "event":
        this.type = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      default:
        // "retry" and unknown fields: the client's backoff decides reconnects.
        break;
    }
  }
}

/** The default SSE URL of a WebSocket URL: ws→http, wss→https, a trailing `/ws` → `/sse` (else `/sse` appended). */
export function defaultSseUrl(wsUrl: string): string {
  const split = /^([^?#]*)(.*)$/s.exec(wsUrl);
  let base = split?.[1] ?? wsUrl;
  const rest = split?.[2] ?? "";
  base = base.replace(/^ws(s?):/i, (_m, s: string) => `http${s}:`);
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(base);
  const origin = scheme?.[0] ?? "";
  let path = base.slice(origin.length);
  path = path.endsWith("/ws") ? `${path.slice(0, -3)}/sse` : `${path.replace(/\/$/, "")}/sse`;
  return origin + path + rest;
}

/** `POST` URL of a session: the token as one more path segment, the query kept. */
export function sessionUrl(sseUrl: string, token: string): string {
  const split = /^([^?#]*)(.*)$/s.exec(sseUrl);
  const base = (split?.[1] ?? sseUrl).replace(/\/$/, "");
  return `${base}/${token}${split?.[2] ?? ""}`;
}

/** Most frames the server accepts in one POST body (SPEC §9.5). */
export const MAX_FRAMES_PER_POST = 64;

const TOKEN = /^[0-9a-f]{32}$/;

export class SseTransport implements Transport {
  readonly kind = "sse";
  readonly encoding = "text";
  private readonly fetch: FetchFunction;
  private readonly url: string;
  private readonly on: TransportHandlers;
  private readonly abort = abortController();
  private token: string | undefined;
  private done = false;
  private posting = false;
  private scheduled = false;
  private pending: string[] = [];

  constructor(fetch: FetchFunction, url: string, on: TransportHandlers) {
    this.fetch = fetch;
    this.url = url;
    this.on = on;
    void this.run();
  }

  private async run(): Promise<void> {
    let response: FetchResponseLike;
    try {
      response = await this.fetch(this.url, {
        method: "GET",
        headers: { accept: "text/event-stream" },
        signal: this.abort.signal,
        cache: "no-store",
      });
    } catch (e) {
      this.finish({ kind: "failed", message: `SSE request failed: ${describe(e)}` });
      return;
    }
    if (this.done) {
      void response.body?.cancel().catch(() => {});
      return;
    }
    const type = response.headers.get("content-type") ?? "";
    if (!response.ok || response.body === null || !type.toLowerCase().startsWith("text/event-stream")) {
      void response.body?.cancel().catch(() => {});
      const why = response.ok ? `not an event stream (${type || "no content type"})` : `HTTP ${response.status}`;
      const end: TransportEnd = { kind: "failed", message: `SSE: ${why}` };
      // Unlike a WebSocket's, a refused GET shows its status and headers.
      if (response.status === 503) end.unavailable = { retryAfterMs: retryAfterMs(response.headers.get("retry-after")) };
      this.finish(end);
      return;
    }
    const reader = response.body.getReader();
    const decoder = streamingDecoder();
    const parser = new SseParser();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (this.done) break;
        const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
        for (const event of parser.push(text)) {
          this.event(event);
          if (this.done) break;
        }
        if (done || this.done) break;
      }
    } catch (e) {
      this.lost(`the event stream failed: ${describe(e)}`);
      return;
    }
    if (this.done) {
      void reader.cancel().catch(() => {});
      return;
    }
    this.lost("the event stream ended without a close event");
  }

  /** The stream broke: a dropped connection (1006) once open, a failed attempt before. */
  private lost(message: string): void {
    this.finish(this.token === undefined ? { kind: "failed", message: `SSE: ${message}` } : { kind: "dropped", message });
  }

  private event(event: SseEvent): void {
    switch (event.type) {
      case "session":
        if (this.token !== undefined) return;
        if (!TOKEN.test(event.data)) {
          this.finish({ kind: "failed", message: "SSE: the session event holds no token" });
          return;
        }
        this.token = event.data;
        this.on.open();
        return;
      case "message":
        if (this.token !== undefined) this.on.frame(event.data);
        return;
      case "close": {
        const bar = event.data.indexOf("|");
        const code = Number.parseInt(bar < 0 ? event.data : event.data.slice(0, bar), 10);
        const reason = bar < 0 ? "" : event.data.slice(bar + 1);
        this.finish(Number.isInteger(code) ? { kind: "closed", code, reason } : { kind: "dropped", message: `SSE: bad close event ${JSON.stringify(event.data)}` });
        return;
      }
      default:
        return;
    }
  }

  private finish(end: TransportEnd, refused: readonly string[] = []): void {
    if (this.done) return;
    this.done = true;
    this.abort.abort();
    // Control frames (hello, pongs) belong to this session; the next one sends its own.
    const unsent = [...refused, ...this.pending].filter((frame) => frame.charCodeAt(0) !== 0x5f);
    this.pending = [];
    this.on.end(unsent.length > 0 ? { ...end, unsent } : end);
  }

  /** Queues `frame` (text) and posts what is queued, at most 64 frames a request, one request at a time. */
  send(frame: string | Uint8Array): void {
    if (this.done) return;
    if (typeof frame !== "string") throw new TypeError("tagwire: the SSE transport sends text frames only");
    this.pending.push(frame);
    // Frames sent in the same turn (the hello and the queue) share one POST.
    if (this.scheduled) return;
    this.scheduled = true;
    void Promise.resolve().then(() => {
      this.scheduled = false;
      void this.post();
    });
  }

  private async post(): Promise<void> {
    if (this.posting || this.done || this.token === undefined || this.pending.length === 0) return;
    this.posting = true;
    const batch = this.pending.splice(0, MAX_FRAMES_PER_POST);
    let response: FetchResponseLike;
    try {
      response = await this.fetch(sessionUrl(this.url, this.token), {
        method: "POST",
        headers: { "content-type": "text/plain;charset=utf-8" },
        body: batch.join("\n"),
        signal: this.abort.signal,
        cache: "no-store",
      });
    } catch (e) {
      this.posting = false;
      this.finish({ kind: "dropped", message: `SSE POST failed: ${describe(e)}` });
      return;
    }
    this.posting = false;
    void response.body?.cancel().catch(() => {});
    if (this.done) return;
    if (response.status === 404) {
      // The server looks the session up before reading a frame: none of
      // this batch was accepted, so it goes out again on the next connection.
      this.finish({ kind: "dropped", message: "SSE: the session is gone (404)" }, batch);
    } else if (response.status === 413) {
      // As a WebSocket server closes with 1009 for an oversized frame.
      this.finish({ kind: "closed", code: 1009, reason: "frame too large (HTTP 413)" });
    } else if (!response.ok) {
      this.finish({ kind: "dropped", message: `SSE POST answered HTTP ${response.status}` });
    } else {
      void this.post();
    }
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.abort.abort();
  }
}

/**
 * `Retry-After` in delta-seconds, as milliseconds; an HTTP date (which needs
 * clocks that agree) or anything else is not read.
 */
function retryAfterMs(value: string | null): number | undefined {
  const v = value?.trim() ?? "";
  if (!/^\d+$/.test(v)) return undefined;
  const seconds = Number(v);
  return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : Number.MAX_SAFE_INTEGER;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message;
  }
  return String(e);
}
