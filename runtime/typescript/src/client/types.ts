/** The client's public types: status, events, options and errors. */

import type { ErrorCodeName, ErrorNotice, GapNotice, OutdatedNotice, RoomPosition } from "../control.js";
import type { DecodeErrorKind, Limits } from "../error.js";
import type { Backoff } from "./backoff.js";
import type { FetchFunction, WebSocketConstructor } from "./platform.js";

/** The transport of a connection. */
export type TransportKind = "websocket" | "sse";

/** Why the client is reconnecting. */
export type ReconnectReason =
  /** The server is being deployed (a drain notice, or a "reconnect later" close). */
  | "deploy"
  /**
   * The connection could not open, or dropped without a close code. An
   * attempt refused with HTTP 503 (a full or draining server) waits as after
   * a deploy, spread around its `Retry-After` when the client could read it
   * (SSE, not a browser's WebSocket).
   */
  | "network"
  /** No ping arrived within `pingTimeoutMs`; the client closed with 4000. */
  | "heartbeat"
  /** The server closed with a code whose action is to reconnect (`code` says which). */
  | "closed";

/** The connection's state, for a UI that explains the gap. */
export type Status =
  /** Opening a connection; `attempt` counts from 1 since the last connection the server answered. */
  | { state: "connecting"; attempt: number; transport: TransportKind }
  /** Open; the hello, the rooms' resumes and the queued messages went out first, so what a listener sends now follows them. */
  | { state: "open"; transport: TransportKind }
  /**
   * The connection is gone; the next attempt starts `delayMs` after this
   * status, at `at` (epoch ms, `Date.now()`'s clock). For `deploy`, `message`
   * is the drain notice's reason ("Server updating").
   */
  | {
      state: "reconnecting";
      reason: ReconnectReason;
      message: string;
      code?: number;
      delayMs: number;
      at: number;
    }
  /** Stopped for good: a "stop" close code (SPEC §9.4), `close()`, or a URL that cannot work. */
  | { state: "closed"; code: number | undefined; reason: string };

/** The server's welcome named another protocol fingerprint; the connection stays open. */
export interface Mismatch {
  serverFingerprint: string;
  serverPackage: string;
}

/**
 * Where a room message came from (SPEC §9.7): the second argument of
 * `message` listeners, `undefined` for a message the server sent to this
 * connection alone.
 */
export interface RoomDelivery {
  /** The room it was broadcast to. */
  room: string;
  /** Its place in the room (epoch, seq); the client resumes from the last one after a reconnect. */
  position: RoomPosition;
}

/**
 * A change to a room's presence (SPEC §9.8), after the client's map for the
 * room changed: a member joined, changed its state or left, or a snapshot
 * replaced the whole map (after joining a room, or after a gap). `P` is the
 * package's `PresenceState`.
 */
export type PresenceChange<P> =
  | { kind: "join"; room: string; member: string; state: P }
  | { kind: "update"; room: string; member: string; state: P; previous: P }
  | { kind: "leave"; room: string; member: string; previous: P }
  | { kind: "snapshot"; room: string; members: ReadonlyMap<string, P> };

/** Everything `client.on` can listen to, and what each listener receives. */
export interface ClientEvents<S, P = never> {
  /**
   * A message from the server. Listeners added with `on("message", …)` get a
   * second argument, the {@link RoomDelivery} of a room message.
   */
  message: S;
  /** The connection changed state (also readable as `client.status`). */
  status: Status;
  /** The welcome's fingerprint differs from the package's (SPEC §9.1). */
  mismatch: Mismatch;
  /** The server refused one of our frames (SPEC §9.3); the connection stays open. */
  error: ServerError;
  /**
   * The server and this client no longer share a version of one message
   * (SPEC §9.1 and §9.6, `_g`): the server had one for us with no conversion down to
   * the versions this client was generated with, or we sent a version the
   * server's schema removed. The connection stays open and everything else
   * keeps flowing; the page is older than the server, so this is the moment
   * to offer a reload. Sent again each time it happens.
   */
  outdated: OutdatedNotice;
  /**
   * A frame from the server that this client could not decode; it was
   * skipped and the connection stays open. `unknown_header` is a message
   * version this client was not generated with (a server that does not
   * convert for older clients), or a control message newer than this client.
   */
  undecodable: UndecodableFrame;
  /**
   * Messages of a room are gone for good (SPEC §9.7, `_j`): after a
   * reconnect the server's history no longer reached back to this client's
   * last position (`trimmed`), or the room started over (`reset`). Refetch
   * the room's state; live messages follow `position`.
   */
  gap: GapNotice;
  /**
   * A room's presence changed (SPEC §9.8): `client.presence(room)` already
   * shows the change. Presence events replayed after a reconnect are
   * applied as they come, so the map stays in step with the room.
   */
  presence: PresenceChange<P>;
}

/**
 * One frame as the `debug` option sees it: every frame the client decoded
 * from the server (`"in"`) or handed to its transport (`"out"`), the
 * runtime's control messages included.
 */
export interface DebugFrame {
  direction: "in" | "out";
  /** The frame's header (`ad`; `_a` for a ping); for a room message, its inner frame's. */
  header: string;
  /**
   * The message's name (`Delivered`), or the control message's (`welcome`,
   * `ping`, `hello`; `control` is then true). A package whose messages are not
   * shaped like generated code's (`{ message, version, value }`) shows the header.
   */
  name: string;
  /** The message version; 0 for control messages. */
  version: number;
  /** The message's fields (generated code's `value`), or the control message's (`undefined` for ping and pong). */
  value: unknown;
  /** A runtime control message (SPEC §9) rather than one of the package's. */
  control: boolean;
  /** A room message's room and position (SPEC §9.7); absent otherwise. */
  room?: RoomDelivery;
}

/** A server frame the client skipped because it did not decode. */
export interface UndecodableFrame {
  /** The frame's header (`zz`), or `""` when it does not start with one. */
  header: string;
  /** Why, as SPEC §7 names it (the `DecodeError`'s kind). */
  kind: DecodeErrorKind;
  /** What and where, naming the header, for logs. */
  message: string;
}

/**
 * A frame the server refused (SPEC §9.3), with its code's name: `rate_limited`
 * (5: slow down; a client that keeps on is closed with 4005), `forbidden` (6:
 * this user may not send it), `invalid` (7: a value breaks a schema
 * constraint), and the older `unknown_header`, `malformed`, `wrong_direction`,
 * `refused`; `unknown` for codes newer than this client.
 */
export interface ServerError extends ErrorNotice {
  name: ErrorCodeName;
}

/** What `connect` can be told; every field is optional. */
export interface ClientOptions {
  /** WebSocket encoding, asked for with the subprotocol `tagwire.text` / `tagwire.binary` (default text). SSE is always text. */
  encoding?: "text" | "binary" | undefined;
  /** `"auto"` (default): WebSocket, falling back to SSE when it cannot open; or one transport only. */
  transport?: "auto" | "websocket" | "sse" | undefined;
  /** The SSE route (default: the WebSocket URL with ws→http, wss→https and a trailing `/ws` → `/sse`). */
  sseUrl?: string | undefined;
  /** Drop the connection (close 4000) and reconnect when no ping arrived for this long (default 45 000). */
  pingTimeoutMs?: number | undefined;
  /** Give up a connection attempt that has not opened after this long (default 10 000). */
  connectTimeoutMs?: number | undefined;
  /** Reconnect delays (defaults 500 ms, 30 s, ×2). */
  backoff?: Partial<Backoff> | undefined;
  /** Backoff factor after a "reconnect later" close that no drain notice announced (default 2). */
  laterMultiplier?: number | undefined;
  /** Most messages held while disconnected (default 1024). */
  queueLimit?: number | undefined;
  /** A send to a full queue: `"reject"` throws a {@link SendError} (default); `"drop-oldest"` makes room. */
  whenFull?: "reject" | "drop-oldest" | undefined;
  /** Decoding limits for received frames (default `DEFAULT_LIMITS`). */
  limits?: Limits | undefined;
  /** The jitter's random source, `[0, 1)` (default `Math.random`); tests pass a fixed one. */
  random?: (() => number) | undefined;
  /** The WebSocket constructor (default `globalThis.WebSocket`; Node 20 has none: pass the `ws` package's). */
  WebSocket?: WebSocketConstructor | undefined;
  /** The fetch used by SSE (default `globalThis.fetch`). */
  fetch?: FetchFunction | undefined;
  /**
   * Most rooms whose last position the client remembers and resumes after a
   * reconnect (default 64, the number of `_i` a server accepts per
   * connection, SPEC §9.7); beyond it the room least recently heard from is
   * forgotten. 0 remembers none; a value that is not a finite number is 64.
   */
  maxRooms?: number | undefined;
  /**
   * Called with every frame the client sends or receives, decoded, for
   * logging while developing: `debug: (f) => console.debug(f.direction, f.name, f.value)`.
   * Frames that do not decode are `undecodable` events instead. Unset (the
   * default), the client builds nothing for it.
   */
  debug?: ((frame: DebugFrame) => void) | undefined;
  /**
   * Most members the client keeps in one room's presence map (default
   * 10 000, SPEC §9.8); members beyond it are ignored until some leave.
   */
  maxPresenceMembers?: number | undefined;
  /**
   * `setPresence` sends at most one state per room per this many ms
   * (default 50, the server's own `presence_interval`); the latest state
   * set in between is sent when the interval ends, the others never.
   */
  presenceIntervalMs?: number | undefined;
}

/** Why `send` refused a message. */
export class SendError extends Error {
  /** `"full"`: `queueLimit` messages already wait (with `whenFull: "reject"`); `"closed"`: the client stopped. */
  readonly kind: "full" | "closed";
  /** The queue limit, for `"full"`. */
  readonly limit: number | undefined;

  constructor(kind: "full" | "closed", limit?: number) {
    super(kind === "full" ? `tagwire: send queue full (${limit ?? 0} messages)` : "tagwire: client closed");
    this.name = "SendError";
    this.kind = kind;
    this.limit = limit;
  }
}

/**
 * A connection to a Tagwire server that reconnects by itself. `P` is the
 * package's presence state type (`PresenceState`; `never` without any).
 */
export interface Client<S, C, P = never> {
  /** The current state. */
  readonly status: Status;
  /**
   * Listens to messages; for a room message (SPEC §9.7) the listener's
   * second argument is its room and position, else `undefined`. Returns a
   * function that stops listening.
   */
  on(event: "message", listener: (message: S, room: RoomDelivery | undefined) => void): () => void;
  /** Listens to `event`; returns a function that stops listening. */
  on<E extends keyof ClientEvents<S, P>>(event: E, listener: (value: ClientEvents<S, P>[E]) => void): () => void;
  /**
   * Sends `message` now if open, else queues it (sent in order after the next
   * hello). Throws `EncodeError` for values outside their types, and
   * {@link SendError} when the queue is full (`whenFull: "reject"`) or the
   * client is closed.
   */
  send(message: C): void;
  /** Closes with 1000 and stops for good; queued messages are dropped. */
  close(): void;
  /** The server's messages from now on, ending when the client stops (buffered without bound: keep reading). */
  messages(): AsyncIterableIterator<S>;
  /**
   * Forgets the last position in `room`, so no `_i` resumes it after the
   * next reconnect: call it when the page leaves a room, so that the rooms
   * it is still in keep their place within the server's bound.
   */
  forgetRoom(room: string): void;
  /**
   * The members present in `room` and their states (SPEC §9.8), as the
   * server's snapshot and presence events made it: empty for a room the
   * client has no presence for. A live, read-only view, updated before each
   * `presence` event; it stays across reconnects (the server's replay or a
   * fresh snapshot keeps it in step) until {@link Client.forgetRoom}.
   */
  presence(room: string): ReadonlyMap<string, P>;
  /**
   * Sets this connection's presence state in `room` (`_k`, SPEC §9.8), once
   * the server made it a present member there (else the server answers with
   * an `error` event, `refused`). Sent at once, then at most once per
   * `presenceIntervalMs` per room (the latest state wins); while
   * disconnected, the latest state is kept and sent after the next hello, so
   * the room learns where this page is now. Throws `EncodeError` for values
   * outside their types and {@link SendError} (`closed`) after `close()`.
   */
  setPresence(room: string, state: P): void;
}
