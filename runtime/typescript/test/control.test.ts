// SPEC §9: control messages byte-identical to the Rust runtime's
// `tagwire::control` (its `text_frames_match_the_spec` test has these frames),
// and the close-code table of §9.4 as runtime/rust/src/close.rs has it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CloseCode,
  DecodeError,
  ErrorCode,
  closeAction,
  closeCodeName,
  decodeControlBinary,
  decodeControlText,
  encodeControlBinary,
  encodeControlText,
  encodeRoomBinary,
  encodeRoomText,
  errorCodeName,
  isControlHeader,
  isSeenBy,
  splitRoomBinary,
  splitRoomText,
  type Control,
} from "tagwire";
import { hex, unhex } from "./helpers.js";

/** Rust's `all()` in control.rs (its `text_frames_match_the_spec` frames), and SPEC §9.1's text examples. */
const CASES: [Control, string, string][] = [
  [{ type: "ping" }, "_a", "5F 61"],
  [{ type: "pong" }, "_b", "5F 62"],
  [
    { type: "hello", value: { package: "ui", fingerprint: "0dd77274df56ce28", headers: "aaabac" } },
    "_c|ui|0dd77274df56ce28|aaabac",
    // "_c", "ui" (2), "0dd77274df56ce28" (16), "aaabac" (6)
    "5F 63 02 75 69 10 30 64 64 37 37 32 37 34 64 66 35 36 63 65 32 38 06 61 61 61 62 61 63",
  ],
  [
    { type: "welcome", value: { package: "ui", fingerprint: "0dd77274df56ce28", pingIntervalMs: 30_000 } },
    "_d|ui|0dd77274df56ce28|30000",
    // 30000 as a varint: B0 EA 01
    "5F 64 02 75 69 10 30 64 64 37 37 32 37 34 64 66 35 36 63 65 32 38 B0 EA 01",
  ],
  [
    { type: "drain", value: { reason: "Server updating", windowMs: 5_000, backoffMultiplier: 2 } },
    "_e|Server updating|5000|2",
    // "Server updating" (15), 5000 = 88 27, 2.0 as f64 LE
    "5F 65 0F 53 65 72 76 65 72 20 75 70 64 61 74 69 6E 67 88 27 00 00 00 00 00 00 00 40",
  ],
  [
    { type: "error", value: { code: 1, message: "header `zz` is not a message this server accepts" } },
    "_f|1|header `zz` is not a message this server accepts",
    "5F 66 01 30 " + hex(new TextEncoder().encode("header `zz` is not a message this server accepts")),
  ],
  [
    { type: "outdated", value: { header: "ad", message: "Typing", version: 1, reason: "Typing v1 was removed from the protocol; reload to update" } },
    "_g|ad|Typing|1|Typing v1 was removed from the protocol; reload to update",
    // "ad" (2), "Typing" (6), 1, the reason (57 = 0x39)
    "5F 67 02 61 64 06 54 79 70 69 6E 67 01 39 54 79 70 69 6E 67 20 76 31 20 77 61 73 20 72 65 6D 6F 76 65 64 20 66 72 6F 6D 20 74 68 65 20 70 72 6F 74 6F 63 6F 6C 3B 20 72 65 6C 6F 61 64 20 74 6F 20 75 70 64 61 74 65",
  ],
];

/**
 * Outdated notices at the edges, derived by hand from SPEC §3–4 (strings are
 * a varint length and UTF-8, a u32 a varint): a version past one varint
 * byte, a pipe escaped in text and plain in binary, empty strings and the
 * largest u32.
 */
const OUTDATED_VECTORS: [Control, string, string][] = [
  [
    { type: "outdated", value: { header: "aH", message: "Post", version: 300, reason: "no conversion|reload" } },
    "_g|aH|Post|300|no conversion\\preload",
    // 300 = AC 02; the pipe is a plain byte in binary
    "5F 67 02 61 48 04 50 6F 73 74 AC 02 14 6E 6F 20 63 6F 6E 76 65 72 73 69 6F 6E 7C 72 65 6C 6F 61 64",
  ],
  [
    { type: "outdated", value: { header: "", message: "", version: 4_294_967_295, reason: "" } },
    "_g|||4294967295|",
    "5F 67 00 00 FF FF FF FF 0F 00",
  ],
];

describe("control messages (SPEC §9.1)", () => {
  it("text frames are the spec's (and the Rust runtime's)", () => {
    for (const [control, text] of CASES) assert.equal(encodeControlText(control), text);
    // SPEC §9.1's error example, without the backticks.
    assert.equal(
      encodeControlText({ type: "error", value: { code: 1, message: "header zz is not a message this server accepts" } }),
      "_f|1|header zz is not a message this server accepts",
    );
  });

  it("binary frames follow §4 byte for byte", () => {
    for (const [control, , bytes] of CASES) assert.equal(hex(encodeControlBinary(control)), bytes, control.type);
  });

  it("every control message round-trips in both encodings", () => {
    for (const [control, text, bytes] of CASES) {
      assert.deepEqual(decodeControlText(text), control);
      assert.deepEqual(decodeControlBinary(unhex(bytes)), control);
    }
  });

  it("outdated notices are the Rust runtime's frames in both encodings and round-trip", () => {
    for (const [control, text, bytes] of OUTDATED_VECTORS) {
      assert.equal(encodeControlText(control), text);
      assert.equal(hex(encodeControlBinary(control)), bytes);
      assert.deepEqual(decodeControlText(text), control);
      assert.deepEqual(decodeControlBinary(unhex(bytes)), control);
    }
  });

  it("an outdated notice is decoded strictly: four fields, a u32 version", () => {
    const kind = (frame: string): string | undefined => {
      try {
        decodeControlText(frame);
        return undefined;
      } catch (e) {
        return e instanceof DecodeError ? e.kind : String(e);
      }
    };
    assert.equal(kind("_g|ad|Typing|1"), "truncated");
    assert.equal(kind("_g|ad|Typing|1|gone|extra"), "trailing_data");
    assert.equal(kind("_g|ad|Typing|4294967296|gone"), "out_of_range");
    assert.equal(kind("_g|ad|Typing|-1|gone"), "out_of_range");
    assert.equal(kind("_g|ad|Typing|v1|gone"), "invalid_token");
    assert.throws(() => decodeControlBinary(unhex("5F 67 02 61 64 06 54 79 70 69 6E 67 01")), (e: unknown) => e instanceof DecodeError && e.kind === "truncated");
  });

  it("a pipe in a reason is escaped like any string (\\p)", () => {
    const c: Control = { type: "drain", value: { reason: "a|b", windowMs: 0, backoffMultiplier: 1.5 } };
    assert.equal(encodeControlText(c), "_e|a\\pb|0|1.5");
    assert.deepEqual(decodeControlText(encodeControlText(c)), c);
  });

  it("application headers and unknown control headers are unknown_header; bad fields fail", () => {
    assert.throws(() => decodeControlText("aa"), (e: unknown) => e instanceof DecodeError && e.kind === "unknown_header");
    assert.throws(() => decodeControlText("_o"), (e: unknown) => e instanceof DecodeError && e.kind === "unknown_header");
    // The presence frames with a state frame inside are not `Control`s, as `_h` is not.
    assert.throws(() => decodeControlText("_k|r|aa"), (e: unknown) => e instanceof DecodeError && e.kind === "unknown_header");
    assert.throws(() => decodeControlText("_d|ui|x"), (e: unknown) => e instanceof DecodeError && e.kind === "truncated");
    assert.throws(() => decodeControlText("_a|1"), (e: unknown) => e instanceof DecodeError && e.kind === "trailing_data");
    assert.throws(() => decodeControlText("_d|ui|x|-1"), (e: unknown) => e instanceof DecodeError);
    assert.ok(isControlHeader("_a") && isControlHeader("__") && !isControlHeader("aa") && !isControlHeader("a_"));
  });
});

/** Rust's `all()` additions in control.rs (`text_frames_match_the_spec`): resume and gaps at a Redis-sized epoch. */
const ROOM_CONTROLS: [Control, string][] = [
  [{ type: "resume", value: { room: "lobby", position: { epoch: 1_700_000_000_000_000n, seq: 42n } } }, "_i|lobby|1700000000000000|42"],
  [
    { type: "gap", value: { room: "lobby", kind: "trimmed", position: { epoch: 1_700_000_000_000_000n, seq: 1_200n } } },
    "_j|lobby|trimmed|1700000000000000|1200",
  ],
  [{ type: "gap", value: { room: "a|b", kind: "reset", position: { epoch: 9n, seq: 0n } } }, "_j|a\\pb|reset|9|0"],
];

/** SPEC §9.7's test vectors (Rust's `room_frames_match_the_spec_vectors`): room `lobby` at 300/7. */
const LOBBY = { room: "lobby", position: { epoch: 300n, seq: 7n } };
const RESUME_VECTORS: [Control, string, string][] = [
  [{ type: "resume", value: LOBBY }, "_i|lobby|300|7", "5F 69 05 6C 6F 62 62 79 AC 02 07"],
  [{ type: "gap", value: { ...LOBBY, kind: "trimmed" } }, "_j|lobby|trimmed|300|7", "5F 6A 05 6C 6F 62 62 79 07 74 72 69 6D 6D 65 64 AC 02 07"],
  [{ type: "gap", value: { ...LOBBY, kind: "reset" } }, "_j|lobby|reset|300|7", "5F 6A 05 6C 6F 62 62 79 05 72 65 73 65 74 AC 02 07"],
];

describe("rooms: room message envelope, resume, gap (SPEC §9.7)", () => {
  it("the room message envelope is the spec's in both encodings, and splits back into room, position and inner frame", () => {
    // The inner frame `aa|hi|~`, binary `61 61 02 68 69 00`.
    const innerBinary = unhex("61 61 02 68 69 00");
    assert.equal(encodeRoomText(LOBBY, "aa|hi|~"), "_h|lobby|300|7|aa|hi|~");
    assert.equal(hex(encodeRoomBinary(LOBBY, innerBinary)), "5F 68 05 6C 6F 62 62 79 AC 02 07 61 61 02 68 69 00");
    assert.deepEqual(splitRoomText("_h|lobby|300|7|aa|hi|~"), { ...LOBBY, inner: "aa|hi|~" });
    const split = splitRoomBinary(unhex("5F 68 05 6C 6F 62 62 79 AC 02 07 61 61 02 68 69 00"));
    assert.deepEqual({ ...split, inner: hex(split.inner) }, { ...LOBBY, inner: "61 61 02 68 69 00" });
    // A room name with `|` is escaped like any string; the inner frame never is.
    const odd = { room: "a|b", position: { epoch: 1n, seq: 1n } };
    assert.equal(encodeRoomText(odd, "ae"), "_h|a\\pb|1|1|ae");
    assert.equal(hex(encodeRoomBinary(odd, new TextEncoder().encode("ae"))), "5F 68 03 61 7C 62 01 01 61 65");
    assert.deepEqual(splitRoomText("_h|a\\pb|1|1|ae"), { ...odd, inner: "ae" });
    // Positions near 2^53 (a Redis epoch is microseconds) stay exact.
    const far = { room: "r", position: { epoch: 2n ** 53n - 1n, seq: 2n ** 53n - 2n } };
    assert.deepEqual(splitRoomText(encodeRoomText(far, "aa|x")), { ...far, inner: "aa|x" });
    const farBinary = splitRoomBinary(encodeRoomBinary(far, innerBinary));
    assert.deepEqual({ ...farBinary, inner: hex(farBinary.inner) }, { ...far, inner: "61 61 02 68 69 00" });
  });

  it("resume and gap are the Rust runtime's frames in both encodings and round-trip", () => {
    for (const [control, text] of ROOM_CONTROLS) {
      assert.equal(encodeControlText(control), text);
      assert.deepEqual(decodeControlText(text), control);
      assert.deepEqual(decodeControlBinary(encodeControlBinary(control)), control);
    }
    for (const [control, text, bytes] of RESUME_VECTORS) {
      assert.equal(encodeControlText(control), text);
      assert.equal(hex(encodeControlBinary(control)), bytes);
      assert.deepEqual(decodeControlText(text), control);
      assert.deepEqual(decodeControlBinary(unhex(bytes)), control);
    }
  });

  it("bad envelopes are errors that say what and where; an empty inner frame splits (its decoder rejects it)", () => {
    const kind = (f: () => unknown): string | undefined => {
      try {
        f();
        return undefined;
      } catch (e) {
        return e instanceof DecodeError ? `${e.kind} ${JSON.stringify(e.position)}` : String(e);
      }
    };
    // No separator before the inner frame: where it should start.
    assert.equal(kind(() => splitRoomText("_h|lobby|1|2")), `truncated {"token":4,"byte":12}`);
    assert.equal(kind(() => splitRoomText("_h|lobby|x|2|aa")), `invalid_token {"token":2,"byte":9}`);
    assert.equal(kind(() => splitRoomText("_h|lobby|-1|2|aa")), `out_of_range {"token":2,"byte":9}`);
    assert.equal(kind(() => splitRoomText("_i|lobby|1|2|aa")), `unknown_header {"token":0,"byte":0}`);
    assert.equal(kind(() => splitRoomBinary(unhex("5F 68 05 6C 6F 62"))), `truncated {"byte":2}`);
    assert.equal(kind(() => splitRoomBinary(unhex("5F 68"))), `truncated {"byte":2}`);
    assert.equal(kind(() => splitRoomBinary(unhex("5F 68 01 72 FF FF FF FF FF FF FF FF FF FF 01"))), `invalid_varint {"byte":4}`);
    assert.deepEqual(splitRoomText("_h|r|1|2|"), { room: "r", position: { epoch: 1n, seq: 2n }, inner: "" });
    assert.equal(splitRoomBinary(unhex("5F 68 01 72 01 02")).inner.length, 0);
    // `_h` is not a Control message, as in Rust.
    assert.equal(kind(() => decodeControlText("_h|r|1|2|aa")), `unknown_header {"token":0,"byte":0}`);
    // Resume and gap are strict: three and four fields, u64 numbers.
    assert.equal(kind(() => decodeControlText("_i|lobby|1")), `truncated {"token":3,"byte":10}`);
    assert.equal(kind(() => decodeControlText("_i|lobby|1|2|3")), `trailing_data {"token":4,"byte":13}`);
    assert.equal(kind(() => decodeControlText("_j|lobby|trimmed|18446744073709551616|1")), `out_of_range {"token":3,"byte":17}`);
  });

  it("a gap kind this runtime does not know reads as reset", () => {
    assert.deepEqual(decodeControlText("_j|r|compacted|3|4"), {
      type: "gap",
      value: { room: "r", kind: "reset", position: { epoch: 3n, seq: 4n } },
    });
  });

  it("a position is seen when it is in the same epoch and not after the last", () => {
    const last = { epoch: 5n, seq: 10n };
    assert.ok(isSeenBy({ epoch: 5n, seq: 10n }, last));
    assert.ok(isSeenBy({ epoch: 5n, seq: 3n }, last));
    assert.ok(!isSeenBy({ epoch: 5n, seq: 11n }, last));
    assert.ok(!isSeenBy({ epoch: 6n, seq: 1n }, last));
    assert.ok(!isSeenBy({ epoch: 4n, seq: 1n }, last));
  });
});

describe("error codes (SPEC §9.3)", () => {
  // The same table as the Rust runtime's `error_codes_are_the_spec_table`.
  it("names every code as the Rust runtime does", () => {
    const names = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((c) => [c, errorCodeName(c)]);
    assert.deepEqual(names, [
      [0, "unknown"],
      [1, "unknown_header"],
      [2, "malformed"],
      [3, "wrong_direction"],
      [4, "refused"],
      [5, "rate_limited"],
      [6, "forbidden"],
      [7, "invalid"],
      [8, "unknown"],
    ]);
    assert.equal(errorCodeName(-1), "unknown");
    assert.equal(errorCodeName(1.5), "unknown");
    assert.deepEqual(
      [ErrorCode.RATE_LIMITED, ErrorCode.FORBIDDEN, ErrorCode.INVALID],
      [5, 6, 7],
    );
    assert.equal(encodeControlText({ type: "error", value: { code: ErrorCode.RATE_LIMITED, message: "slow down" } }), "_f|5|slow down");
  });
});

describe("close codes (SPEC §9.4)", () => {
  it("sorts codes into the table's three actions, unknown codes reconnect", () => {
    const table: [number, string][] = [
      [1000, "stop"],
      [1001, "reconnect"],
      [1002, "stop"],
      [1003, "stop"],
      [1005, "reconnect"],
      [1006, "reconnect"],
      [1007, "stop"],
      [1008, "stop"],
      [1009, "stop"],
      [1010, "stop"],
      [1011, "reconnect"],
      [1012, "later"],
      [1013, "later"],
      [4000, "reconnect"],
      [4001, "later"],
      [4002, "reconnect"],
      [4003, "stop"],
      [4004, "stop"],
      [4005, "later"],
      [4999, "reconnect"],
      [3000, "reconnect"],
    ];
    for (const [code, action] of table) assert.equal(closeAction(code), action, String(code));
  });

  it("names codes as the Rust runtime does", () => {
    assert.equal(closeCodeName(CloseCode.DRAIN), "drain");
    assert.equal(closeCodeName(4000), "heartbeat_timeout");
    assert.equal(closeCodeName(1006), "abnormal");
    assert.equal(closeCodeName(1005), "unknown");
    assert.equal(closeCodeName(4999), "unknown");
  });
});
