/**
 * The shape shared by the text and binary writers and readers, so generated
 * code may emit one function per type for both encodings (polymorphic over
 * {@link Writer}/{@link Reader}) or one per encoding (monomorphic); both
 * compile against these.
 *
 * Lists, maps, optionals, unions, enum values and nesting are the same in
 * both encodings but for a few primitives (how a count, a presence marker and
 * an error position look), so they are written once here, in
 * {@link BaseWriter} and {@link BaseReader}, and each encoding supplies only
 * those primitives.
 */

import { checkArray, checkMap } from "./check.js";
import type { DecodeError, DecodeErrorKind, Limits } from "./error.js";
import type { Header } from "./header.js";
import { compareKeys, sortedEntries, type MapKey } from "./keys.js";

/**
 * An enum's variants by wire value, for {@link Reader.enumValue}: an array
 * indexed by the value, so a decoded value finds its variant with one indexed
 * load rather than a hash lookup; a value with no variant reads `undefined`.
 * Build it with {@link enumTable}.
 */
export type EnumTable<T> = readonly (T | undefined)[];

/**
 * The {@link EnumTable} of `[wire value, variant]` pairs. Values are `u32`s:
 * consecutive ones from 0 (the usual enum) make a packed array; the engine
 * stores far-apart ones sparsely, so a large value costs no memory for the gap.
 */
export function enumTable<T>(entries: readonly (readonly [number, T])[]): EnumTable<T> {
  const t: (T | undefined)[] = [];
  for (const [value, variant] of entries) t[value] = variant;
  return t;
}

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
  enumValue<T>(variants: EnumTable<T>): T;
  union<T>(variantCount: number, f: (r: this, index: number) => T): T;
  list<T>(each: (r: this) => T): T[];
  map<K extends MapKey, V>(key: (r: this) => K, value: (r: this) => V): Map<K, V>;
  optional<T>(present: (r: this) => T): T | undefined;
  optionalStruct<T>(present: (r: this) => T): T | undefined;
}

/**
 * The composites of {@link Writer}, written once over the primitives each
 * encoding supplies: a count and a presence marker.
 */
export abstract class BaseWriter {
  abstract u32(v: number): void;
  /** A collection's element count. */
  protected abstract count(n: number): void;
  /**
   * What precedes an optional: whether it is present, marked as a struct
   * needs (text has no token of its own for a struct).
   */
  protected abstract presence(present: boolean, isStruct: boolean): void;

  /** An enum's numeric value. */
  enumValue(v: number): void {
    this.u32(v);
  }
  /** A union's variant index; the variant's fields follow. */
  variant(index: number): void {
    this.u32(index);
  }
  /** Count, then each element through `each`. */
  list<T>(items: readonly T[], each: (w: this, item: T) => void): void {
    checkArray(items);
    this.count(items.length);
    for (const item of items) each(this, item);
  }
  /** Count, then key and value per entry, in SPEC §5 order (sorted here). */
  map<K extends MapKey, V>(
    m: ReadonlyMap<K, V>,
    key: (w: this, k: K) => void,
    value: (w: this, v: V) => void,
  ): void {
    checkMap(m);
    this.count(m.size);
    if (m.size === 0) return;
    for (const [k, v] of sortedEntries(m)) {
      key(this, k);
      value(this, v);
    }
  }
  /** Absent, or the value's own tokens or bytes (for any type but a struct). */
  optional<T>(v: T | undefined, present: (w: this, v: T) => void): void {
    if (v === undefined || v === null) this.presence(false, false);
    else {
      this.presence(true, false);
      present(this, v);
    }
  }
  /** Absent, or a presence marker then the struct's fields. */
  optionalStruct<T>(v: T | undefined, present: (w: this, v: T) => void): void {
    if (v === undefined || v === null) this.presence(false, true);
    else {
      this.presence(true, true);
      present(this, v);
    }
  }
}

/**
 * The composites of {@link Reader} and the nesting bound, written once over
 * the primitives each encoding supplies: a count, a presence check, and the
 * error for a value by where it started.
 */
export abstract class BaseReader {
  /**
   * Where the next value starts, in the encoding's own units (binary: its
   * first byte; text: the `|` before its token, or the frame's end).
   * Composites note it before reading a value whose error is found after.
   */
  protected pos = 2;
  /** Levels open, bounded by `limits.maxDepth`. */
  protected depth = 0;
  protected readonly limits: Limits;

  constructor(limits: Limits) {
    this.limits = limits;
  }

  abstract u32(): number;
  /** The error `kind` about the value that starts at `at`, a {@link BaseReader.pos} noted before reading it. */
  protected abstract failAt(kind: DecodeErrorKind, at: number, value?: number): DecodeError;
  /** A collection's element count, at most `limits.maxCollectionLen`. */
  protected abstract count(): number;
  /** Whether the optional that follows is present (see {@link BaseWriter.presence}). */
  protected abstract isPresent(isStruct: boolean): boolean;

  /** Opens a nesting level: `too_deep` past `limits.maxDepth`, where the next value starts. */
  protected enter(): void {
    if (this.depth >= this.limits.maxDepth) throw this.failAt("too_deep", this.pos);
    this.depth++;
  }

  /**
   * Runs `f` one nesting level deeper. Generated code wraps every struct-typed
   * field in it (lists, maps, optionals and unions do it themselves), so
   * recursive schemas stay bounded by `maxDepth`.
   */
  nested<T>(f: (r: this) => T): T {
    this.enter();
    const v = f(this);
    this.depth--;
    return v;
  }

  /**
   * An enum value, mapped through `variants` (wire value → the enum's
   * TypeScript value); a value not in it is `unknown_enum_value`.
   */
  enumValue<T>(variants: EnumTable<T>): T {
    const at = this.pos;
    const v = this.u32();
    const e = variants[v];
    if (e === undefined) throw this.failAt("unknown_enum_value", at, v);
    return e;
  }

  /**
   * A union: reads the variant index (`unknown_variant` unless it is below
   * `variantCount`), then `f` decodes that variant's fields.
   */
  union<T>(variantCount: number, f: (r: this, index: number) => T): T {
    this.enter();
    const at = this.pos;
    const index = this.u32();
    if (index >= variantCount) throw this.failAt("unknown_variant", at, index);
    const v = f(this, index);
    this.depth--;
    return v;
  }

  /** Count, then elements. Nothing is pre-allocated: a lying count runs out of input. */
  list<T>(each: (r: this) => T): T[] {
    this.enter();
    const n = this.count();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(each(this));
    this.depth--;
    return out;
  }

  /** Count, then key/value pairs whose keys must arrive strictly ascending (SPEC §5). */
  map<K extends MapKey, V>(key: (r: this) => K, value: (r: this) => V): Map<K, V> {
    this.enter();
    const n = this.count();
    const out = new Map<K, V>();
    let prev: K | undefined;
    for (let i = 0; i < n; i++) {
      const at = this.pos;
      const k = key(this);
      if (prev !== undefined) {
        const c = compareKeys(prev, k);
        if (c >= 0) throw this.failAt(c === 0 ? "duplicate_map_key" : "unsorted_map_keys", at);
      }
      out.set(k, value(this));
      prev = k;
    }
    this.depth--;
    return out;
  }

  /** Absent, or the value (for any type but a struct). */
  optional<T>(present: (r: this) => T): T | undefined {
    this.enter();
    const v = this.isPresent(false) ? present(this) : undefined;
    this.depth--;
    return v;
  }

  /** As {@link BaseReader.optional}, with the marker a present struct carries. */
  optionalStruct<T>(present: (r: this) => T): T | undefined {
    this.enter();
    const v = this.isPresent(true) ? present(this) : undefined;
    this.depth--;
    return v;
  }
}
