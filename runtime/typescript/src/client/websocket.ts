/** The WebSocket transport: subprotocol `tagwire.text` / `tagwire.binary` (SPEC §9.2). */

import type { WebSocketConstructor, WebSocketLike } from "./platform.js";
import type { Transport, TransportEnd, TransportHandlers } from "./transport.js";

function field(event: unknown, name: string): unknown {
  return typeof event === "object" && event !== null ? (event as Record<string, unknown>)[name] : undefined;
}

/** A received message's data as a frame: a string, or bytes. */
function frameOf(data: unknown): string | Uint8Array | undefined {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/** How the `ws` package reports an upgrade answered with 503. */
const UNAVAILABLE = /\bUnexpected server response: 503\b/;

export class WebSocketTransport implements Transport {
  readonly kind = "websocket";
  readonly encoding: "text" | "binary";
  private readonly ws: WebSocketLike;
  private opened = false;
  private done = false;
  private lastError = "";
  private readonly on: TransportHandlers;

  /** Throws what the constructor throws (an invalid URL). */
  constructor(Ctor: WebSocketConstructor, url: string, encoding: "text" | "binary", on: TransportHandlers) {
    this.encoding = encoding;
    this.on = on;
    this.ws = new Ctor(url, [encoding === "binary" ? "tagwire.binary" : "tagwire.text"]);
    this.ws.binaryType = "arraybuffer";
    this.ws.addEventListener("open", () => {
      if (this.done) return;
      this.opened = true;
      this.on.open();
    });
    this.ws.addEventListener("message", (event) => {
      if (this.done) return;
      const frame = frameOf(field(event, "data"));
      if (frame !== undefined) this.on.frame(frame);
    });
    this.ws.addEventListener("error", (event) => {
      // Browsers say nothing; the `ws` package says why ("Unexpected server response: 403").
      const message = field(event, "message");
      if (typeof message === "string" && message !== "") this.lastError = message;
    });
    this.ws.addEventListener("close", (event) => {
      const code = field(event, "code");
      const reason = field(event, "reason");
      this.finish(this.closeEnd(typeof code === "number" ? code : 1006, typeof reason === "string" ? reason : ""));
    });
  }

  private closeEnd(code: number, reason: string): TransportEnd {
    if (!this.opened) {
      const why = this.lastError === "" ? `closed with ${code}` : this.lastError;
      const end: TransportEnd = { kind: "failed", message: `the WebSocket could not open (${why})` };
      // A browser never tells why an upgrade failed. Node's `ws` names the
      // status ("Unexpected server response: 503") but not the headers, so
      // there is no Retry-After to read here.
      if (UNAVAILABLE.test(this.lastError)) end.unavailable = { retryAfterMs: undefined };
      return end;
    }
    if (code === 1006) {
      const why = this.lastError === "" ? "" : ` (${this.lastError})`;
      return { kind: "dropped", message: `the connection closed without a close frame${why}` };
    }
    return { kind: "closed", code, reason };
  }

  private finish(end: TransportEnd): void {
    if (this.done) return;
    this.done = true;
    this.on.end(end);
  }

  send(frame: string | Uint8Array): void {
    if (this.done) return;
    try {
      this.ws.send(frame);
    } catch (e) {
      // Only a socket that is already closing throws; its close event follows,
      // but report it now so the sender's frame is not silently lost.
      this.close(1000, "");
      this.on.end({ kind: "dropped", message: `send failed: ${String(e)}` });
    }
  }

  close(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    try {
      this.ws.close(code, reason);
    } catch {
      // Already closed.
    }
  }
}
