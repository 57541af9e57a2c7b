/**
 * The client's state machine: connect, say hello, answer pings, watch the
 * heartbeat against the wall clock, deliver messages, and decide after every
 * close whether and when to reconnect (SPEC §9.2, §9.4). Behaves as the Rust
 * client does (docs/RUNTIME.md, "Client").
 */

import { closeAction, closeCodeName } from "../close.js";
import {
  decodeControlBinary,
  decodeControlText,
  encodeControlBinary,
  encodeControlText,
  encodePresenceSetBinary,
  encodePresenceSetText,
  errorCodeName,
  isSeenBy,
  splitPresenceEventBinary,
  splitPresenceEventText,
  splitPresenceMemberBinary,
  splitPresenceMemberText,
  splitRoomBinary,
  splitRoomText,
  type Control,
  type DrainNotice,
  type PresenceSnapshotNotice,
  type RoomPosition,
} from "../control.js";
import { DEFAULT_LIMITS, DecodeError, type Limits } from "../error.js";
import { isHeader } from "../header.js";
import type { Package } from "../package.js";
import {
  DEFAULT_BACKOFF,
  MAX_DRAIN_WINDOW_MS,
  backoffCeiling,
  backoffDelay,
  sanitizeFactor,
  uniformUpTo,
  unavailableCeiling,
  type Backoff,
} from "./backoff.js";
import {
  clearTimer,
  globalFetch,
  globalWebSocket,
  pageTargets,
  reportListenerError,
  setTimer,
  warn,
  type FetchFunction,
  type WebSocketConstructor,
} from "./platform.js";
import { SseTransport, defaultSseUrl } from "./sse.js";
import type { Transport, TransportEnd } from "./transport.js";
import {
  SendError,
  type Client,
  type ClientEvents,
  type ClientOptions,
  type DebugFrame,
  type PresenceChange,
  type RoomDelivery,
  type ReconnectReason,
  type Status,
  type TransportKind,
  type UndecodableFrame,
} from "./types.js";
import { WebSocketTransport } from "./websocket.js";

/**
 * Opens a client for the server at `url` (`ws://host/ws`) speaking the
 * generated package `pkg` (the module's `Package`). Returns at once; the
 * first attempt starts in a microtask, so listeners added right after
 * `connect` see every status.
 */
export function connect<S, C, P extends S = never>(url: string, pkg: Package<S, C, P>, options: ClientOptions = {}): Client<S, C, P> {
  return new TagwireClient(url, pkg, options);
}

/**
 * Rooms whose presence the client keeps at once. The server decides which
 * rooms those are (the ones it made this connection a present member of, a
 * few); the bound only keeps a misbehaving server from growing the client.
 */
const MAX_PRESENCE_ROOMS = 1024;

/** What `presence(room)` returns for a room without presence. */
const NO_MEMBERS: ReadonlyMap<string, never> = new Map<string, never>();

/** A snapshot (`_m`) whose members (`_n`) are still arriving. */
interface SnapshotInProgress<P> {
  notice: PresenceSnapshotNotice;
  received: number;
  members: Map<string, P>;
}

/** One room's outgoing presence: the latest state set, and the interval's timer. */
interface PresenceOut<P> {
  state: P;
  /** `state` encoded when it was set (so errors throw in `setPresence`); re-encoded if the transport's encoding differs. */
  frame: string | Uint8Array;
  /** Set and not sent yet. */
  due: boolean;
  /** Running while a `_k` was sent less than the interval ago. */
  timer: unknown;
}

/** A wall-clock deadline: a timer that, when it fires (or `check` runs), compares with `Date.now()`. */
class Deadline {
  private at = Number.POSITIVE_INFINITY;
  private timer: unknown;
  private readonly due: () => void;

  constructor(due: () => void) {
    this.due = due;
  }

  get armed(): boolean {
    return this.at !== Number.POSITIVE_INFINITY;
  }

  set(at: number): void {
    this.at = at;
    this.arm();
  }

  clear(): void {
    this.at = Number.POSITIVE_INFINITY;
    if (this.timer !== undefined) clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Runs the callback if the deadline has passed; `true` if it did. */
  check(): boolean {
    if (!this.armed || Date.now() < this.at) return false;
    this.clear();
    this.due();
    return true;
  }

  /** Arms the timer; after a timer that fired early, at least 1 ms (never a 0 ms spin). */
  private arm(minimum = 0): void {
    if (this.timer !== undefined) clearTimer(this.timer);
    this.timer = setTimer(
      () => {
        this.timer = undefined;
        // A timer may fire before the wall clock says so (clock changes): re-arm.
        if (!this.check() && this.armed) this.arm(1);
      },
      Math.max(minimum, this.at - Date.now()),
    );
  }
}

/** What comes after a connection (or attempt) ended, before the backoff arithmetic. */
type Next =
  | { kind: "backoff"; reason: ReconnectReason; message: string; code?: number }
  /** Refused with 503 before opening: back off as after a deploy, around Retry-After. */
  | { kind: "unavailable"; message: string; retryAfterMs: number | undefined }
  | { kind: "later"; code: number | undefined; notice: { notice: DrainNotice; at: number } | undefined }
  | { kind: "stop"; code: number | undefined; reason: string };

interface Queued<C> {
  /** Absent for frames handed back unsent by a transport (text; every server reads text frames). */
  message?: C;
  frame: string | Uint8Array;
}

type Listener = (value: never, extra: never) => void;

class TagwireClient<S, C, P extends S = never> implements Client<S, C, P> {
  private readonly url: string;
  private readonly pkg: Package<S, C, P>;
  private readonly mode: "auto" | "websocket" | "sse";
  private readonly encoding: "text" | "binary";
  private readonly sseUrl: string;
  private readonly pingTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly backoff: Backoff;
  private readonly laterMultiplier: number;
  private readonly queueLimit: number;
  private readonly whenFull: "reject" | "drop-oldest";
  private readonly limits: Limits;
  private readonly random: () => number;
  private readonly WebSocket: WebSocketConstructor | undefined;
  private readonly fetch: FetchFunction | undefined;
  private readonly maxRooms: number;
  private readonly debug: ((frame: DebugFrame) => void) | undefined;
  private readonly maxPresenceMembers: number;
  private readonly presenceIntervalMs: number;

  private current: Status;
  private stopped = false;
  private readonly listeners = new Map<keyof ClientEvents<S, P>, Set<Listener>>();
  private queue: Queued<C>[] = [];

  /** The live transport (connecting or open). */
  private transport: Transport | undefined;
  private open = false;
  /** The server sent a frame on the current connection. */
  private answered = false;
  private notice: { notice: DrainNotice; at: number } | undefined;
  /** Waits since the server last answered (the n of the backoff). */
  private retry = 0;
  /** Applied to the backoff: a drain notice's multiplier, else 1. */
  private factor = 1;
  private attempt = 0;
  /** Headers an outdated notice was already logged for (the event fires every time, the console once). */
  private readonly outdatedLogged = new Set<string>();
  /**
   * The last position seen per room (`_h` or `_j`), resumed after each hello.
   * In the order rooms were last heard from (a Map keeps insertion order and
   * an update moves the room to the end), so the bound forgets the quietest.
   */
  private readonly rooms = new Map<string, RoomPosition>();
  /** Per room, its members' presence states (SPEC §9.8); kept across reconnects. */
  private readonly presenceMaps = new Map<string, Map<string, P>>();
  /** Per room, the position of its last snapshot: events at or before it are already in the map. */
  private readonly presenceFloors = new Map<string, RoomPosition>();
  private snapshot: SnapshotInProgress<P> | undefined;
  /** Per room, what `setPresence` set. */
  private readonly presenceOut = new Map<string, PresenceOut<P>>();

  private readonly watchdog = new Deadline(() => this.heartbeatLost());
  private readonly connectDeadline = new Deadline(() => this.connectTimedOut());
  private readonly reconnectDeadline = new Deadline(() => this.startAttempt());
  private readonly recheck = (): void => this.checkDeadlines();
  private page: ReturnType<typeof pageTargets> = { document: undefined, window: undefined };

  constructor(url: string, pkg: Package<S, C, P>, options: ClientOptions) {
    this.url = url;
    this.pkg = pkg;
    this.mode = options.transport ?? "auto";
    this.encoding = options.encoding ?? "text";
    this.sseUrl = options.sseUrl ?? defaultSseUrl(url);
    this.pingTimeoutMs = options.pingTimeoutMs ?? 45_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.backoff = { ...DEFAULT_BACKOFF, ...definedOnly(options.backoff ?? {}) };
    this.laterMultiplier = options.laterMultiplier ?? 2;
    this.queueLimit = options.queueLimit ?? 1024;
    this.whenFull = options.whenFull ?? "reject";
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.random = options.random ?? Math.random;
    this.WebSocket = options.WebSocket ?? globalWebSocket();
    this.fetch = options.fetch ?? globalFetch();
    // Always a bound: NaN or Infinity would make the remembered rooms grow without one.
    const maxRooms = options.maxRooms ?? 64;
    this.maxRooms = Number.isFinite(maxRooms) ? Math.max(0, Math.floor(maxRooms)) : 64;
    this.debug = options.debug;
    const maxMembers = options.maxPresenceMembers ?? 10_000;
    this.maxPresenceMembers = Number.isFinite(maxMembers) ? Math.max(0, Math.floor(maxMembers)) : 10_000;
    const interval = options.presenceIntervalMs ?? 50;
    this.presenceIntervalMs = Number.isFinite(interval) ? Math.max(0, interval) : 50;
    this.current = { state: "connecting", attempt: 1, transport: this.firstTransport() };
    void Promise.resolve().then(() => this.begin());
  }

  get status(): Status {
    return this.current;
  }

  on(event: "message", listener: (message: S, room: RoomDelivery | undefined) => void): () => void;
  on<E extends keyof ClientEvents<S, P>>(event: E, listener: (value: ClientEvents<S, P>[E]) => void): () => void;
  on<E extends keyof ClientEvents<S, P>>(event: E, listener: (value: ClientEvents<S, P>[E], room: RoomDelivery | undefined) => void): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const l = listener as Listener;
    set.add(l);
    return () => {
      this.listeners.get(event)?.delete(l);
    };
  }

  /** Calls `event`'s listeners with `value` (and, for messages, the room it came from). */
  private emit<E extends keyof ClientEvents<S, P>>(event: E, value: ClientEvents<S, P>[E], room?: RoomDelivery): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (value: ClientEvents<S, P>[E], room: RoomDelivery | undefined) => void)(value, room);
      } catch (e) {
        // A listener's bug must not break the connection; report it as uncaught.
        reportListenerError(e);
      }
    }
  }

  private setStatus(status: Status): void {
    this.current = status;
    this.emit("status", status);
  }

  send(message: C): void {
    if (this.stopped) throw new SendError("closed");
    const t = this.transport;
    if (t !== undefined && this.open) {
      const frame = this.encode(message, t.encoding);
      t.send(frame);
      if (this.debug !== undefined) this.trace(messageFrame("out", frame, message, undefined));
      return;
    }
    // Encoded now so that a value outside its type throws here, not later.
    const frame = this.encode(message, this.nextEncoding());
    if (this.queue.length >= this.queueLimit) {
      if (this.whenFull === "reject" || this.queueLimit <= 0) {
        if (this.whenFull === "reject") throw new SendError("full", this.queueLimit);
        return;
      }
      this.queue.shift();
    }
    this.queue.push({ message, frame });
  }

  close(): void {
    if (this.stopped) return;
    this.transport?.close(1000, "");
    this.stop({ state: "closed", code: 1000, reason: "closed by the application" });
  }

  forgetRoom(room: string): void {
    this.rooms.delete(room);
    this.presenceMaps.delete(room);
    this.presenceFloors.delete(room);
    if (this.snapshot?.notice.room === room) this.snapshot = undefined;
    const out = this.presenceOut.get(room);
    if (out?.timer !== undefined) clearTimer(out.timer);
    this.presenceOut.delete(room);
  }

  presence(room: string): ReadonlyMap<string, P> {
    return this.presenceMaps.get(room) ?? NO_MEMBERS;
  }

  setPresence(room: string, state: P): void {
    if (this.stopped) throw new SendError("closed");
    // A presence state is a message both sides send, so it is one of `C` too.
    const encoding = this.transport !== undefined && this.open ? this.transport.encoding : this.nextEncoding();
    const frame = this.encode(state as unknown as C, encoding);
    let out = this.presenceOut.get(room);
    if (out === undefined) {
      out = { state, frame, due: true, timer: undefined };
      this.presenceOut.set(room, out);
    } else {
      out.state = state;
      out.frame = frame;
      out.due = true;
    }
    if (out.timer === undefined) this.flushPresence(room, out);
  }

  /**
   * Sends the room's latest state if one is due and the connection is open,
   * then holds the next for the interval: at most one `_k` per room per
   * interval, the last state set winning.
   */
  private flushPresence(room: string, out: PresenceOut<P>): void {
    const t = this.transport;
    if (!out.due || t === undefined || !this.open) return; // sent after the next hello
    out.due = false;
    if (typeof out.frame === "string" !== (t.encoding === "text")) out.frame = this.encode(out.state as unknown as C, t.encoding);
    const frame = typeof out.frame === "string" ? encodePresenceSetText(room, out.frame) : encodePresenceSetBinary(room, out.frame);
    t.send(frame);
    if (this.debug !== undefined) {
      this.trace({ direction: "out", header: "_k", name: "presenceSet", version: 0, value: { room, state: out.state }, control: true });
    }
    out.timer = setTimer(() => {
      out.timer = undefined;
      if (this.presenceOut.get(room) === out) this.flushPresence(room, out);
    }, this.presenceIntervalMs);
  }

  messages(): AsyncIterableIterator<S> {
    const buffered: S[] = [];
    const waiting: ((result: IteratorResult<S, undefined>) => void)[] = [];
    let done = this.stopped;
    const finish = (): void => {
      done = true;
      offMessage();
      offStatus();
      for (const w of waiting.splice(0)) w({ value: undefined, done: true });
    };
    const offMessage = this.on("message", (m) => {
      const w = waiting.shift();
      if (w !== undefined) w({ value: m, done: false });
      else buffered.push(m);
    });
    const offStatus = this.on("status", (s) => {
      if (s.state === "closed") finish();
    });
    if (done) finish();
    const iterator: AsyncIterableIterator<S> = {
      next: () => {
        if (buffered.length > 0) return Promise.resolve({ value: buffered.shift() as S, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => waiting.push(resolve));
      },
      return: () => {
        buffered.length = 0;
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  // ---- connection attempts ----

  private firstTransport(): TransportKind {
    if (this.mode === "sse") return "sse";
    if (this.mode === "auto" && this.WebSocket === undefined) return "sse";
    return "websocket";
  }

  /** The encoding of the next connection, for frames queued before it opens. */
  private nextEncoding(): "text" | "binary" {
    return this.firstTransport() === "sse" ? "text" : this.encoding;
  }

  private encode(message: C, encoding: "text" | "binary"): string | Uint8Array {
    return encoding === "binary" ? this.pkg.encodeClientBinary(message) : this.pkg.encodeClientText(message);
  }

  private begin(): void {
    if (this.stopped) return;
    this.page = pageTargets();
    this.page.document?.addEventListener("visibilitychange", this.recheck);
    this.page.window?.addEventListener("online", this.recheck);
    this.startAttempt();
  }

  private startAttempt(): void {
    if (this.stopped) return;
    this.attempt += 1;
    this.openTransport(this.firstTransport());
  }

  private openTransport(kind: TransportKind): void {
    this.answered = false;
    this.notice = undefined;
    this.open = false;
    this.setStatus({ state: "connecting", attempt: this.attempt, transport: kind });
    if (this.stopped) return; // a status listener closed the client
    let transport: Transport;
    const handlers = {
      open: () => {
        if (this.transport === transport) this.opened(transport);
      },
      frame: (data: string | Uint8Array) => {
        if (this.transport === transport) this.received(transport, data);
      },
      end: (end: TransportEnd) => {
        if (this.transport === transport) this.ended(transport, end);
      },
    };
    try {
      if (kind === "sse") {
        if (this.fetch === undefined) throw new Error("no fetch in this environment (pass options.fetch)");
        transport = new SseTransport(this.fetch, this.sseUrl, handlers);
      } else {
        if (this.WebSocket === undefined) {
          throw new Error("no WebSocket in this environment (pass options.WebSocket, e.g. the ws package's)");
        }
        transport = new WebSocketTransport(this.WebSocket, this.url, this.encoding, handlers);
      }
    } catch (e) {
      // A URL or an environment that cannot work: retrying would fail the same way.
      this.stop({ state: "closed", code: undefined, reason: e instanceof Error ? e.message : String(e) });
      return;
    }
    this.transport = transport;
    this.connectDeadline.set(Date.now() + this.connectTimeoutMs);
  }

  private opened(t: Transport): void {
    this.connectDeadline.clear();
    this.open = true;
    this.watchdog.set(Date.now() + this.pingTimeoutMs);
    this.sendControl(t, {
      type: "hello",
      value: { package: this.pkg.name, fingerprint: this.pkg.fingerprint, headers: this.pkg.headers.join("") },
    });
    // SPEC §9.7: the positions go right after the hello, before any application frame.
    for (const [room, position] of this.rooms) {
      if (this.transport !== t) return;
      this.sendControl(t, { type: "resume", value: { room, position } });
    }
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) {
      if (this.transport !== t) {
        // The transport ended while flushing: keep the rest for the next connection.
        this.queue = [...queued.slice(queued.indexOf(q)), ...this.queue];
        return;
      }
      const frame =
        q.message === undefined || typeof q.frame === "string" === (t.encoding === "text") ? q.frame : this.encode(q.message, t.encoding);
      t.send(frame);
      // Frames handed back unsent (no message kept) were shown when first sent.
      if (this.debug !== undefined && q.message !== undefined) this.trace(messageFrame("out", frame, q.message, undefined));
    }
    // The presence states set before: the room learns where this page is now
    // (a new connection may be a member again with the state it joined with).
    for (const [room, out] of this.presenceOut) {
      if (this.transport !== t) return;
      if (out.timer !== undefined) clearTimer(out.timer);
      out.timer = undefined;
      out.due = true;
      this.flushPresence(room, out);
    }
    // Last, so that what a page sends when it sees `open` (rejoining its rooms)
    // follows the hello, the resumes and the queue, as SPEC §9.2 and §9.7 want.
    if (this.transport === t) this.setStatus({ state: "open", transport: t.kind });
  }

  private sendControl(t: Transport, c: Control): void {
    const frame = t.encoding === "binary" ? encodeControlBinary(c) : encodeControlText(c);
    t.send(frame);
    if (this.debug !== undefined) this.trace(controlFrame("out", frame, c));
  }

  /** Hands a frame to the `debug` option; its errors are reported, not thrown into the connection. */
  private trace(frame: DebugFrame): void {
    try {
      this.debug?.(frame);
    } catch (e) {
      reportListenerError(e);
    }
  }

  private received(t: Transport, data: string | Uint8Array): void {
    this.answered = true;
    const control = typeof data === "string" ? data.charCodeAt(0) === 0x5f : data[0] === 0x5f;
    const second = typeof data === "string" ? data.charCodeAt(1) : data[1];
    if (this.snapshot !== undefined && !(control && second === 0x6e)) {
      // SPEC §9.8: the members follow `_m` at once; a snapshot cut short is not the room's presence.
      const s = this.snapshot;
      this.snapshot = undefined;
      warn(`tagwire client: the presence snapshot of room ${JSON.stringify(s.notice.room)} ended after ${s.received} of ${s.notice.count} members; ignored`);
    }
    if (!control) {
      this.deliver(data, undefined);
      return;
    }
    if (second === 0x68) {
      this.roomMessage(data);
      return;
    }
    if (second === 0x6e) {
      this.snapshotMember(data);
      return;
    }
    let c: Control;
    try {
      c = typeof data === "string" ? decodeControlText(data, this.limits) : decodeControlBinary(data, this.limits);
    } catch (e) {
      this.undecodable(data, e, true);
      return;
    }
    if (this.debug !== undefined) this.trace(controlFrame("in", data, c));
    switch (c.type) {
      case "ping":
        this.watchdog.set(Date.now() + this.pingTimeoutMs);
        this.sendControl(t, { type: "pong" });
        return;
      case "welcome":
        if (c.value.pingIntervalMs >= this.pingTimeoutMs) {
          warn(
            `tagwire client: the server pings every ${c.value.pingIntervalMs} ms, not less than the client's ping timeout (${this.pingTimeoutMs} ms)`,
          );
        }
        if (c.value.fingerprint !== this.pkg.fingerprint) {
          warn(`tagwire client: protocol fingerprints differ (server ${c.value.fingerprint}, client ${this.pkg.fingerprint})`);
          this.emit("mismatch", { serverFingerprint: c.value.fingerprint, serverPackage: c.value.package });
        }
        return;
      case "drain":
        this.notice = { notice: c.value, at: Date.now() };
        return;
      case "error":
        this.emit("error", { ...c.value, name: errorCodeName(c.value.code) });
        return;
      case "outdated":
        if (!this.outdatedLogged.has(c.value.header)) {
          this.outdatedLogged.add(c.value.header);
          const { header, message, version, reason } = c.value;
          // SPEC §9.1: `message` is empty when the server cannot name the header.
          const what = message === "" ? `\`${header}\`` : `${message} v${version} (\`${header}\`)`;
          warn(`tagwire client: protocol outdated: ${what}: ${reason}`);
        }
        this.emit("outdated", c.value);
        return;
      case "gap":
        this.remember(c.value.room, c.value.position);
        this.emit("gap", c.value);
        return;
      case "presenceSnapshot":
        this.snapshot = { notice: c.value, received: 0, members: new Map() };
        if (c.value.count === 0) this.finishSnapshot();
        return;
      case "hello":
      case "pong":
      case "resume":
        return; // client-only messages: ignored
    }
  }

  /** Decodes an application frame (alone, or the inner frame of a room message) and emits it. */
  private deliver(data: string | Uint8Array, room: RoomDelivery | undefined): void {
    let message: S;
    try {
      message = typeof data === "string" ? this.pkg.decodeServerText(data, this.limits) : this.pkg.decodeServerBinary(data, this.limits);
    } catch (e) {
      this.undecodable(data, e, false, room?.room);
      return;
    }
    if (this.debug !== undefined) this.trace(messageFrame("in", data, message, room));
    this.emit("message", message, room);
  }

  /**
   * `_h` (SPEC §9.7): drops what this client has seen (a replay overlapping
   * what arrived before the reconnect), else remembers the position and
   * delivers the inner frame, which the server already converted to a
   * version this client knows (§9.6).
   */
  private roomMessage(data: string | Uint8Array): void {
    let envelope: { room: string; position: RoomPosition; inner: string | Uint8Array };
    try {
      envelope = typeof data === "string" ? splitRoomText(data, this.limits) : splitRoomBinary(data, this.limits);
    } catch (e) {
      this.undecodable(data, e, true);
      return;
    }
    const { room, position, inner } = envelope;
    const last = this.rooms.get(room);
    if (last !== undefined && isSeenBy(position, last)) return;
    // Remembered even if the inner frame does not decode: it was delivered, in order.
    this.remember(room, position);
    const presence = typeof inner === "string" ? inner.startsWith("_l") : inner[0] === 0x5f && inner[1] === 0x6c;
    if (presence) this.presenceEvent(room, position, inner);
    else this.deliver(inner, { room, position });
  }

  /**
   * `_l` inside `_h` (SPEC §9.8): applied to the room's map unless the last
   * snapshot already holds it (at or before its position). The map's own
   * contents decide the change: a `join` of a member already there is an
   * update, an `update` of one the bound kept out a join.
   */
  private presenceEvent(room: string, position: RoomPosition, inner: string | Uint8Array): void {
    const floor = this.presenceFloors.get(room);
    if (floor !== undefined && isSeenBy(position, floor)) return;
    let event: { kind: "join" | "update" | "leave"; member: string; state: string | Uint8Array | undefined };
    try {
      event = typeof inner === "string" ? splitPresenceEventText(inner, this.limits) : splitPresenceEventBinary(inner, this.limits);
    } catch (e) {
      this.undecodable(inner, e, true, room);
      return;
    }
    const { kind, member } = event;
    if (this.debug !== undefined) {
      this.trace({ direction: "in", header: "_l", name: `presence ${kind}`, version: 0, value: { member }, control: true, room: { room, position } });
    }
    if (kind === "leave") {
      const map = this.presenceMaps.get(room);
      if (map === undefined || !map.has(member)) return;
      const previous = map.get(member) as P;
      map.delete(member);
      this.emit("presence", { kind: "leave", room, member, previous });
      return;
    }
    const state = event.state === undefined ? undefined : this.presenceState(event.state, room);
    if (state === undefined) return;
    const map = this.presenceMap(room);
    if (map === undefined) return;
    if (map.has(member)) {
      const previous = map.get(member) as P;
      map.set(member, state);
      this.emit("presence", { kind: "update", room, member, state, previous });
    } else if (map.size < this.maxPresenceMembers) {
      map.set(member, state);
      this.emit("presence", { kind: "join", room, member, state });
    }
  }

  /** `_n`: one member of the snapshot `_m` announced; the last one replaces the room's map. */
  private snapshotMember(data: string | Uint8Array): void {
    const s = this.snapshot;
    if (s === undefined) {
      warn("tagwire client: a presence member (`_n`) without a snapshot (`_m`) before it; ignored");
      return;
    }
    let frame: { room: string; member: string; state: string | Uint8Array };
    try {
      frame = typeof data === "string" ? splitPresenceMemberText(data, this.limits) : splitPresenceMemberBinary(data, this.limits);
    } catch (e) {
      this.undecodable(data, e, true, s.notice.room);
      this.snapshot = undefined;
      return;
    }
    if (frame.room !== s.notice.room) {
      this.snapshot = undefined;
      warn(`tagwire client: a presence member of room ${JSON.stringify(frame.room)} in the snapshot of room ${JSON.stringify(s.notice.room)}; ignored`);
      return;
    }
    if (this.debug !== undefined) {
      this.trace({ direction: "in", header: "_n", name: "presenceMember", version: 0, value: { room: frame.room, member: frame.member }, control: true });
    }
    s.received += 1;
    const state = this.presenceState(frame.state, frame.room);
    if (state !== undefined && (s.members.has(frame.member) || s.members.size < this.maxPresenceMembers)) s.members.set(frame.member, state);
    if (s.received >= s.notice.count) this.finishSnapshot();
  }

  /** The snapshot is complete: its members replace the room's (in the same map, which `presence(room)` returned). */
  private finishSnapshot(): void {
    const s = this.snapshot;
    if (s === undefined) return;
    this.snapshot = undefined;
    const { room, position } = s.notice;
    const map = this.presenceMap(room);
    if (map === undefined) return;
    map.clear();
    for (const [member, state] of s.members) map.set(member, state);
    this.presenceFloors.set(room, { epoch: position.epoch, seq: position.seq });
    this.emit("presence", { kind: "snapshot", room, members: map } satisfies PresenceChange<P>);
  }

  /** The room's presence map, made on first use; `undefined` past {@link MAX_PRESENCE_ROOMS}. */
  private presenceMap(room: string): Map<string, P> | undefined {
    let map = this.presenceMaps.get(room);
    if (map !== undefined) return map;
    if (this.presenceMaps.size >= MAX_PRESENCE_ROOMS) {
      warn(`tagwire client: presence in more than ${MAX_PRESENCE_ROOMS} rooms; room ${JSON.stringify(room)} ignored`);
      return undefined;
    }
    map = new Map();
    this.presenceMaps.set(room, map);
    return map;
  }

  /** A member's state frame decoded, if it is one of the package's presence states. */
  private presenceState(frame: string | Uint8Array, room: string): P | undefined {
    let message: S;
    try {
      message = typeof frame === "string" ? this.pkg.decodeServerText(frame, this.limits) : this.pkg.decodeServerBinary(frame, this.limits);
    } catch (e) {
      this.undecodable(frame, e, false, room);
      return undefined;
    }
    const isPresence = this.pkg.isPresence;
    if (isPresence !== undefined && !isPresence(message)) {
      warn(`tagwire client: a presence state in room ${JSON.stringify(room)} is not one of the package's presence messages:`, describeFrame(frame));
      return undefined;
    }
    return message as P;
  }

  /** The room's last position, as the most recently heard-from room; the quietest goes beyond `maxRooms`. */
  private remember(room: string, position: RoomPosition): void {
    this.rooms.delete(room);
    if (this.maxRooms === 0) return;
    while (this.rooms.size >= this.maxRooms) {
      const oldest = this.rooms.keys().next();
      if (oldest.done === true) break;
      this.rooms.delete(oldest.value);
    }
    this.rooms.set(room, { epoch: position.epoch, seq: position.seq });
  }

  /** A frame that did not decode: skipped, logged, and reported to the application. */
  private undecodable(data: string | Uint8Array, e: unknown, control: boolean, room?: string): void {
    const what = control ? "control frame" : room === undefined ? "frame" : `frame (a message of room ${JSON.stringify(room)})`;
    warn(`tagwire client: skipping a ${what} that does not decode:`, describeFrame(data), String(e));
    // Generated decoders throw only DecodeError; anything else is a bug, logged above.
    if (!(e instanceof DecodeError)) return;
    const header = headerOf(data);
    let message: string;
    if (header === "") message = `a ${what} without a header: ${e.message}; skipped`;
    else if (e.kind !== "unknown_header") message = `a \`${header}\` ${what} does not decode: ${e.message}; skipped`;
    else if (control) message = `header \`${header}\` is not a control message this client knows (a newer server); skipped`;
    else if (this.pkg.headers.includes(header)) message = `header \`${header}\` is a message clients send, not one they receive; skipped`;
    else {
      message =
        `header \`${header}\` is not a message this client was generated with (package ${this.pkg.name}, fingerprint ${this.pkg.fingerprint}): ` +
        "the server is newer and did not convert it for this client; skipped";
    }
    const frame: UndecodableFrame = { header, kind: e.kind, message };
    this.emit("undecodable", frame);
  }

  private heartbeatLost(): void {
    const t = this.transport;
    if (t === undefined || !this.open) return;
    t.close(4000, "no ping");
    this.after(t, {
      kind: "backoff",
      reason: "heartbeat",
      message: `no ping from the server for ${this.pingTimeoutMs} ms`,
    });
  }

  private connectTimedOut(): void {
    const t = this.transport;
    if (t === undefined || this.open) return;
    t.close(1000, "");
    this.ended(t, { kind: "failed", message: `the ${t.kind === "sse" ? "SSE session" : "WebSocket"} did not open within ${this.connectTimeoutMs} ms` });
  }

  private ended(t: Transport, end: TransportEnd): void {
    if (end.unsent !== undefined && this.transport === t) {
      // Accepted by send() but never by the server: first in line next time.
      this.queue = [...end.unsent.map((frame) => ({ frame })), ...this.queue];
    }
    if (end.kind === "failed" && end.unavailable !== undefined) {
      // The server has no room (or is draining): SSE would be refused the same way.
      this.after(t, { kind: "unavailable", message: end.message, retryAfterMs: end.unavailable.retryAfterMs });
      return;
    }
    if (end.kind === "failed" && !this.open && t.kind === "websocket" && this.mode === "auto") {
      // The WebSocket cannot open (a proxy refusing the upgrade, or a browser
      // hiding a 503): SSE, same attempt.
      this.detach();
      this.openTransport("sse");
      return;
    }
    let next: Next;
    switch (end.kind) {
      case "failed":
      case "dropped":
        next = { kind: "backoff", reason: "network", message: end.message };
        break;
      case "closed": {
        const action = closeAction(end.code);
        const name = `${end.code} (${closeCodeName(end.code)})`;
        if (action === "stop") next = { kind: "stop", code: end.code, reason: end.reason === "" ? closeCodeName(end.code) : end.reason };
        else if (action === "later") next = { kind: "later", code: end.code, notice: undefined };
        else {
          const message = `closed by the server with ${name}${end.reason === "" ? "" : `: ${end.reason}`}`;
          next = { kind: "backoff", reason: "closed", message, code: end.code };
        }
        break;
      }
    }
    this.after(t, next);
  }

  /** A connection (or attempt) is over: reset the retry count if the server spoke, then stop or wait. */
  private after(t: Transport, next: Next): void {
    if (this.transport !== t) return;
    const notice = this.notice;
    this.detach();
    if (this.answered) {
      this.retry = 0;
      this.factor = 1;
      this.attempt = 0;
    }
    // After a drain notice, any drop is the deploy (unless the server said stop).
    if (notice !== undefined && next.kind !== "stop") {
      next = { kind: "later", code: next.kind === "later" ? next.code : undefined, notice };
    }
    if (next.kind === "stop") {
      this.stop({ state: "closed", code: next.code, reason: next.reason });
      return;
    }
    let delayMs: number;
    let reason: ReconnectReason;
    let message: string;
    let code: number | undefined;
    if (next.kind === "backoff") {
      delayMs = backoffDelay(this.backoff, this.retry, this.factor, this.random);
      this.retry += 1;
      ({ reason, message, code } = next);
    } else if (next.kind === "unavailable") {
      // As after a deploy: the backoff multiplied (never less than a drain
      // notice already asked for), each client at its own random moment,
      // around the server's Retry-After.
      this.factor = Math.max(this.factor, sanitizeFactor(this.laterMultiplier));
      delayMs = uniformUpTo(unavailableCeiling(this.backoff, this.retry, this.factor, next.retryAfterMs), this.random);
      this.retry += 1;
      reason = "network";
      message = next.message;
    } else if (next.notice !== undefined) {
      const { notice: n, at } = next.notice;
      this.factor = sanitizeFactor(n.backoffMultiplier);
      this.retry = Math.max(this.retry, 1);
      const windowMs = Math.min(n.windowMs, MAX_DRAIN_WINDOW_MS);
      delayMs = Math.max(0, at + uniformUpTo(windowMs, this.random) - Date.now());
      reason = "deploy";
      message = n.reason;
      code = next.code;
    } else {
      this.factor = sanitizeFactor(this.laterMultiplier);
      this.retry = Math.max(this.retry, 1);
      delayMs = uniformUpTo(backoffCeiling(this.backoff, 0), this.random);
      code = next.code;
      if (next.code !== undefined && next.code !== 4001) {
        reason = "closed";
        message = `closed by the server with ${next.code} (${closeCodeName(next.code)})`;
      } else {
        reason = "deploy";
        message = "server draining";
      }
    }
    const at = Date.now() + delayMs;
    const status: Status = { state: "reconnecting", reason, message, delayMs, at };
    if (code !== undefined) status.code = code;
    this.setStatus(status);
    if (this.stopped) return;
    this.reconnectDeadline.set(at);
  }

  /** Forgets the current transport (already closed or ended) and its timers. */
  private detach(): void {
    this.transport = undefined;
    this.open = false;
    // Its members would have come on the connection that is gone.
    this.snapshot = undefined;
    this.watchdog.clear();
    this.connectDeadline.clear();
  }

  /** Deadlines again, against the wall clock: browsers throttle timers in background tabs. */
  private checkDeadlines(): void {
    if (this.stopped) return;
    this.watchdog.check();
    this.connectDeadline.check();
    this.reconnectDeadline.check();
  }

  private stop(status: Status): void {
    if (this.stopped) return;
    this.stopped = true;
    this.detach();
    this.reconnectDeadline.clear();
    this.queue = [];
    for (const out of this.presenceOut.values()) if (out.timer !== undefined) clearTimer(out.timer);
    this.presenceOut.clear();
    this.page.document?.removeEventListener("visibilitychange", this.recheck);
    this.page.window?.removeEventListener("online", this.recheck);
    this.setStatus(status);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * A message for the `debug` option: its name and version as generated code
 * tags every message (`{ message, version, value }`), else the header.
 */
function messageFrame(direction: "in" | "out", data: string | Uint8Array, message: unknown, room: RoomDelivery | undefined): DebugFrame {
  const header = headerOf(data);
  const tagged = message as { message?: unknown; version?: unknown; value?: unknown } | null;
  const frame: DebugFrame =
    typeof tagged === "object" && tagged !== null && typeof tagged.message === "string" && typeof tagged.version === "number"
      ? { direction, header, name: tagged.message, version: tagged.version, value: tagged.value, control: false }
      : { direction, header, name: header, version: 0, value: message, control: false };
  if (room !== undefined) frame.room = room;
  return frame;
}

/** A control message for the `debug` option. */
function controlFrame(direction: "in" | "out", data: string | Uint8Array, c: Control): DebugFrame {
  return { direction, header: headerOf(data), name: c.type, version: 0, value: "value" in c ? c.value : undefined, control: true };
}

/** The frame's first two characters if they are a header, else `""`. */
function headerOf(data: string | Uint8Array): string {
  const h = typeof data === "string" ? data.slice(0, 2) : String.fromCharCode(...data.subarray(0, 2));
  return isHeader(h) ? h : "";
}

function describeFrame(data: string | Uint8Array): string {
  if (typeof data === "string") return JSON.stringify(data.length > 40 ? `${data.slice(0, 40)}…` : data);
  return `${data.length} bytes`;
}
