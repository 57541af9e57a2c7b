/**
 * The shape shared by the text and binary writers and readers, so generated
 * code may emit one function per type for both encodings (polymorphic over
 * {@link Writer}/{@link Reader}) or one per encoding (monomorphic); both
 * compile against these.
 */

import type { DecodeError } from "./error.js";
import type { Header } from "./header.js";
import type { MapKey } from "./keys.js";

/** What {@link TextWriter} and {@link BinaryWriter} have in common. */
export interface Writer {
  bool(v: boolean): void;
  u8(v: number): void;
  u16(v: number): void;
  u32(v: number): void;
  u64(v: bigint): void;
  i8(v: number): void;
  i16(v: number): void;
  i32(v: number): void;
  i64(v: bigint): void;
  f32(v: number): void;
  f64(v: number): void;
  str(v: string): void;
  bytes(v: Uint8Array): void;
  enumValue(v: number): void;
  variant(index: number): void;
  list<T>(items: readonly T[], each: (w: this, item: T) => void): void;
  map<K extends MapKey, V>(m: ReadonlyMap<K, V>, key: (w: this, k: K) => void, value: (w: this, v: V) => void): void;
  optional<T>(v: T | undefined, present: (w: this, v: T) => void): void;
  optionalStruct<T>(v: T | undefined, present: (w: this, v: T) => void): void;
}

/** What {@link TextReader} and {@link BinaryReader} have in common. */
export interface Reader {
  readonly header: Header;
  unknownHeader(): DecodeError;
  finish(): void;
  nested<T>(f: (r: this) => T): T;
  bool(): boolean;
  u8(): number;
  u16(): number;
  u32(): number;
  u64(): bigint;
  i8(): number;
  i16(): number;
  i32(): number;
  i64(): bigint;
  f32(): number;
  f64(): number;
  string(): string;
  bytes(): Uint8Array;
  enumValue<T>(variants: ReadonlyMap<number, T>): T;
  union<T>(variantCount: number, f: (r: this, index: number) => T): T;
  list<T>(each: (r: this) => T): T[];
  map<K extends MapKey, V>(key: (r: this) => K, value: (r: this) => V): Map<K, V>;
  optional<T>(present: (r: this) => T): T | undefined;
  optionalStruct<T>(present: (r: this) => T): T | undefined;
}
