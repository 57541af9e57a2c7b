/**
 * Constraints of the schema (SPEC §6.4): what generated `validate` functions
 * call, the {@link Violation} they return, and the errors decoders and
 * encoders throw with it.
 */

import { DecodeError, EncodeError, type Position, type Violation } from "./error.js";

/**
 * Thrown by encoders for a value that breaks a constraint of the schema;
 * nothing is written. An {@link EncodeError}, so one `catch` handles both.
 */
export class ConstraintError extends EncodeError {
  readonly violation: Violation;

  constructor(violation: Violation) {
    super(`${violation.path}: ${violation.message}`);
    this.name = "ConstraintError";
    this.violation = violation;
  }
}

/** The decode error for a frame whose value breaks a constraint (`constraint_violation`). */
export function constraintViolation(violation: Violation, position: Position): DecodeError {
  return new DecodeError("constraint_violation", position, undefined, violation);
}

/** A string's length as `@len` counts it: Unicode code points, not UTF-16 units. */
export function charCount(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** `@len`: the violation's message, or `undefined` when `n` is within the range. */
export function checkLen(n: number, min: number, max: number | undefined, range: string): string | undefined {
  return n >= min && (max === undefined || n <= max) ? undefined : `length ${n} is outside ${range}`;
}

/** `@range` on a `number` integer. */
export function checkInt(v: number, min: number | undefined, max: number | undefined, range: string): string | undefined {
  return (min === undefined || v >= min) && (max === undefined || v <= max) ? undefined : `${v} is outside ${range}`;
}

/** `@range` on a `bigint` (`u64`, `i64`). */
export function checkBigInt(v: bigint, min: bigint | undefined, max: bigint | undefined, range: string): string | undefined {
  return (min === undefined || v >= min) && (max === undefined || v <= max) ? undefined : `${v} is outside ${range}`;
}

/** `@range` on a float: NaN is outside every range. */
export function checkFloat(v: number, min: number | undefined, max: number | undefined, range: string): string | undefined {
  if ((min === undefined || v >= min) && (max === undefined || v <= max) && !Number.isNaN(v)) return undefined;
  return `${Object.is(v, -0) ? "-0" : String(v)} is outside ${range}`;
}

/** `@pattern`: `re` (no `g` flag, so `test` keeps no state) matches somewhere in `s`. */
export function checkPattern(re: RegExp, s: string, quoted: string): string | undefined {
  return re.test(s) ? undefined : `does not match ${quoted}`;
}

/** A violation inside a struct or union value, seen from the field that holds it. */
export function within(prefix: string, inner: Violation): Violation {
  const path =
    inner.path === "" ? prefix : inner.path.startsWith("[") || prefix === "" ? prefix + inner.path : `${prefix}.${inner.path}`;
  return { path, message: inner.message };
}
