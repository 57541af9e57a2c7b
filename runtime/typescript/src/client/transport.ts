/**
 * What the client's state machine sees of a connection, whichever transport
 * carries it (WebSocket, or SSE + POST).
 */

/** How a transport ended, reported at most once and never after {@link Transport.close}. */
export type TransportEnd = (
  /**
   * It never opened (refused upgrade, HTTP error, connection refused, timeout).
   * `unavailable` when it is known to be a 503 (a full or draining server, or a
   * proxy out of room), with the `Retry-After` when it could be read.
   */
  | { kind: "failed"; message: string; unavailable?: { retryAfterMs: number | undefined } }
  /** It opened and then dropped without a close code (WebSocket 1006, a broken stream, a 404 POST). */
  | { kind: "dropped"; message: string }
  /** The server closed it with a code (a WebSocket close frame, or SSE's `event: close`). */
  | { kind: "closed"; code: number; reason: string }
) & {
  /**
   * Application frames (text) the server certainly never accepted: SSE frames
   * not yet posted, or refused with 404 before any was read. The client sends
   * them again on the next connection, ahead of what was queued since.
   */
  unsent?: readonly string[];
};

/** Callbacks from a transport to the client. */
export interface TransportHandlers {
  /** Ready to send: the hello goes first. */
  open(): void;
  /** One frame from the server: text, or binary bytes. */
  frame(data: string | Uint8Array): void;
  /** The transport ended by itself. */
  end(end: TransportEnd): void;
}

/** One connection attempt's transport. */
export interface Transport {
  readonly kind: "websocket" | "sse";
  /** The encoding every frame this transport sends is in. */
  readonly encoding: "text" | "binary";
  /** Sends one frame (after `open`). */
  send(frame: string | Uint8Array): void;
  /** Closes it (WebSocket: a close frame with `code`); no callback follows. */
  close(code: number, reason: string): void;
}
