/**
 * Encoder-side checks: TypeScript's types say a `u8` field is a `number`, not
 * that it is an integer in 0–255, so writers check before writing and throw
 * {@link EncodeError} instead of emitting a frame every decoder would reject.
 */

import { EncodeError } from "./error.js";

function describe(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "object") return v === null ? "null" : (v.constructor?.name ?? "object");
  return String(v);
}

export function invalid(type: string, v: unknown): EncodeError {
  return new EncodeError(`tagwire: ${describe(v)} is not a valid ${type}`);
}

export function checkBool(v: boolean): void {
  if (v !== true && v !== false) throw invalid("bool", v);
}
export function checkU8(v: number): void {
  if ((v & 0xff) !== v) throw invalid("u8", v);
}
export function checkU16(v: number): void {
  if ((v & 0xffff) !== v) throw invalid("u16", v);
}
export function checkU32(v: number): void {
  if (v >>> 0 !== v) throw invalid("u32", v);
}
export function checkI8(v: number): void {
  if ((v << 24) >> 24 !== v) throw invalid("i8", v);
}
export function checkI16(v: number): void {
  if ((v << 16) >> 16 !== v) throw invalid("i16", v);
}
export function checkI32(v: number): void {
  if ((v | 0) !== v) throw invalid("i32", v);
}
export function checkU64(v: bigint): void {
  if (typeof v !== "bigint" || BigInt.asUintN(64, v) !== v) throw invalid("u64 (a bigint)", v);
}
export function checkI64(v: bigint): void {
  if (typeof v !== "bigint" || BigInt.asIntN(64, v) !== v) throw invalid("i64 (a bigint)", v);
}
export function checkFloat(v: number): void {
  if (typeof v !== "number") throw invalid("float", v);
}
export function checkString(v: string): void {
  if (typeof v !== "string") throw invalid("string", v);
}
export function checkBytes(v: Uint8Array): void {
  if (!(v instanceof Uint8Array)) throw invalid("bytes (a Uint8Array)", v);
}
export function checkArray(v: readonly unknown[]): void {
  if (!Array.isArray(v)) throw invalid("list (an array)", v);
}
export function checkMap(v: ReadonlyMap<unknown, unknown>): void {
  if (!(v instanceof Map)) throw invalid("map (a Map)", v);
}
