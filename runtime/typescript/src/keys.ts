/** Map keys: SPEC §5's canonical order, shared by both encodings. */

import { compareUtf8 } from "./utf8.js";

/** A map key as generated code holds it: strings, integers up to 32 bits, or bigint for 64-bit. */
export type MapKey = string | number | bigint;

/** SPEC §5 order: numeric for integers (number or bigint), UTF-8 byte-wise for strings. */
export function compareKeys(a: MapKey, b: MapKey): number {
  if (typeof a === "string" && typeof b === "string") return compareUtf8(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

const byKey = (x: readonly [MapKey, unknown], y: readonly [MapKey, unknown]): number => compareKeys(x[0], y[0]);

/** The map's entries in canonical order (sorted only when they are not already). */
export function sortedEntries<K extends MapKey, V>(m: ReadonlyMap<K, V>): [K, V][] {
  const entries = Array.from(m);
  for (let i = 1; i < entries.length; i++) {
    if (compareKeys(entries[i - 1]![0], entries[i]![0]) >= 0) {
      entries.sort(byKey);
      break;
    }
  }
  return entries;
}
