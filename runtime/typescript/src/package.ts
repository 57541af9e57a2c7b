/**
 * What the runtime needs of a generated package module: every module that
 * `tagwire gen ts` writes exports `Package`, an object of this type, so an
 * application writes `connect(url, Package)`.
 */

import type { Limits } from "./error.js";
import type { Header } from "./header.js";

/**
 * A schema package as a client sees it: `S` is its `ServerMessage` (what the
 * client receives), `C` its `ClientMessage` (what it sends), `P` its
 * `PresenceState` (the `presence` declarations; `never` without any).
 */
export interface Package<S, C, P extends S = never> {
  /** The schema package's name (`ui`), sent in the hello. */
  readonly name: string;
  /** The package's `PROTOCOL_FINGERPRINT`, sent in the hello and compared with the welcome's. */
  readonly fingerprint: string;
  /** Every message version's header in header order (`HEADERS`); the hello concatenates them. */
  readonly headers: readonly Header[];
  /** A text frame of a client message (throws `EncodeError` for values outside their types). */
  readonly encodeClientText: (m: C) => string;
  /** A binary frame of a client message, in a fresh array. */
  readonly encodeClientBinary: (m: C) => Uint8Array;
  /** Decodes a server text frame strictly (throws `DecodeError`). */
  readonly decodeServerText: (frame: string, limits?: Limits) => S;
  /** Decodes a server binary frame strictly (throws `DecodeError`). */
  readonly decodeServerBinary: (frame: Uint8Array, limits?: Limits) => S;
  /**
   * The presence states' headers (`PRESENCE_HEADERS`). Absent in modules
   * generated before presence existed: such a package has none.
   */
  readonly presence?: readonly Header[];
  /** Whether a decoded server message is a presence state (absent: none is). */
  readonly isPresence?: (m: S) => m is P;
}

/** The server messages of a {@link Package}. */
export type ServerMessageOf<P> = P extends Package<infer S, unknown> ? S : never;
/** The client messages of a {@link Package}. */
export type ClientMessageOf<P> = P extends Package<unknown, infer C> ? C : never;
/** The presence states of a {@link Package} (`never` when it declares none). */
export type PresenceStateOf<P> = P extends Package<infer S, infer _C, infer T> ? (T extends S ? T : never) : never;
