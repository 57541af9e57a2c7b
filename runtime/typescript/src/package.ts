/**
 * What the runtime needs of a generated package module: every module that
 * `tagwire gen ts` writes exports `Package`, an object of this type, so an
 * application writes `connect(url, Package)`.
 */

import type { Limits } from "./error.js";
import type { Header } from "./header.js";

/**
 * A schema package as a client sees it: `S` is its `ServerMessage` (what the
 * client receives), `C` its `ClientMessage` (what it sends).
 */
export interface Package<S, C> {
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
}

/** The server messages of a {@link Package}. */
export type ServerMessageOf<P> = P extends Package<infer S, unknown> ? S : never;
/** The client messages of a {@link Package}. */
export type ClientMessageOf<P> = P extends Package<unknown, infer C> ? C : never;
