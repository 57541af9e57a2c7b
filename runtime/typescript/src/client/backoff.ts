/**
 * Reconnect delays: exponential backoff with full jitter (SPEC §9.4), the
 * same arithmetic as the Rust client's `Backoff`: pure functions of the retry
 * index and a random source, in whole milliseconds.
 */

/** Reconnect delays (all fields optional in {@link ClientOptions}). */
export interface Backoff {
  /** Ceiling of the first retry (default 500 ms). */
  initialMs: number;
  /** Largest ceiling (default 30 s). */
  maxMs: number;
  /** Growth of the ceiling per retry (default 2). */
  multiplier: number;
}

/** The defaults of SPEC §9.4. */
export const DEFAULT_BACKOFF: Readonly<Backoff> = { initialMs: 500, maxMs: 30_000, multiplier: 2 };

/** Largest factor a drain notice may apply: a hostile server cannot park its clients for days. */
export const MAX_FACTOR = 64;

/** Longest drain window the client honours (`window_ms` is a u32). */
export const MAX_DRAIN_WINDOW_MS = 600_000;

function wholeMs(v: number): number {
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

/**
 * The ceiling of retry `retry` (0-based): `min(max, initial × multiplierⁿ)`,
 * in whole milliseconds. A multiplier below 1 (or not a number) counts as 1.
 */
export function backoffCeiling(b: Backoff, retry: number): number {
  const multiplier = Number.isFinite(b.multiplier) && b.multiplier >= 1 ? b.multiplier : 1;
  const max = wholeMs(b.maxMs);
  const initial = Math.min(wholeMs(b.initialMs), max);
  // `**` saturates to Infinity, and min(Infinity, max) is max.
  return Math.floor(Math.min(initial * multiplier ** retry, max));
}

/** A drain notice's backoff multiplier as the client applies it: not finite or negative → 1, above 64 → 64. */
export function sanitizeFactor(factor: number): number {
  return Number.isFinite(factor) && factor >= 0 ? Math.min(factor, MAX_FACTOR) : 1;
}

/**
 * The ceiling of retry `retry` scaled by `factor` (the deploy backoff is the
 * whole curve, maximum included, multiplied).
 */
export function scaledCeiling(b: Backoff, retry: number, factor: number): number {
  return Math.round(backoffCeiling(b, retry) * sanitizeFactor(factor));
}

/** A uniformly random whole number of milliseconds in `[0, ceiling]`; `random` returns `[0, 1)`. */
export function uniformUpTo(ceiling: number, random: () => number): number {
  const c = wholeMs(ceiling);
  const r = random();
  const x = Math.floor((Number.isFinite(r) ? r : 0) * (c + 1));
  return Math.min(Math.max(x, 0), c);
}

/**
 * The ceiling of the wait after a refusal with HTTP 503 (a full or draining
 * server): the deploy's curve, `scaledCeiling(b, retry, factor)`, but at least
 * twice the server's `Retry-After` (itself capped at `maxMs`). The wait is
 * uniform below it, so its mean is the `Retry-After` the server asked for
 * while clients refused together come back spread over twice that, never in
 * step; past it the curve keeps doubling. As the Rust client's.
 */
export function unavailableCeiling(b: Backoff, retry: number, factor: number, retryAfterMs: number | undefined): number {
  const asked = Math.min(wholeMs(retryAfterMs ?? 0), wholeMs(b.maxMs));
  return Math.max(scaledCeiling(b, retry, factor), 2 * asked);
}

/** A random delay for retry `retry`: uniform over `[0, scaledCeiling(b, retry, factor)]`. */
export function backoffDelay(b: Backoff, retry: number, factor: number, random: () => number): number {
  return uniformUpTo(scaledCeiling(b, retry, factor), random);
}
