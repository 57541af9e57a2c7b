/** Shared by the tests: hex dumps in the Rust golden snapshots' format. */

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, "0")).join(" ");
}

export function unhex(text: string): Uint8Array {
  return new Uint8Array(text.split(" ").map((h) => parseInt(h, 16)));
}
