/**
 * A hand-written protocol shaped like the TypeScript code generator's future
 * output: the same messages as runtime/rust/tests/common (RenderUi, Demo,
 * Everything), so the frames can be compared with the Rust tests'.
 */
import {
  BinaryReader,
  BinaryWriter,
  DEFAULT_LIMITS,
  TextReader,
  TextWriter,
  enumTable,
  type Limits,
  type Reader,
  type Writer,
} from "tagwire";

export interface Point {
  x: number;
  y: number;
}
export type Empty = Record<string, never>;
export type Color = "red" | "green" | "blue";
export type Shape = { kind: "empty" } | { kind: "circle"; r: number } | { kind: "rect"; w: number; h: number };
export interface Tree {
  label: string;
  children: Tree[];
}
export interface RenderUi {
  id: string;
  tree: string;
}
export interface Demo {
  flag: boolean;
  pos: Point;
  tags: string[];
  note?: string;
}
export interface Everything {
  b: boolean;
  u8: number;
  u16: number;
  u32: number;
  u64: bigint;
  i8: number;
  i16: number;
  i32: number;
  i64: bigint;
  f32: number;
  f64: number;
  s: string;
  bytes: Uint8Array;
  list: number[];
  smap: Map<string, number>;
  imap: Map<number, boolean>;
  opt?: number;
  opt_s?: string;
  opt_b?: Uint8Array;
  opt_p?: Point;
  opt_e?: Empty;
  color: Color;
  shape: Shape;
  empties: Empty[];
  points: (Point | undefined)[];
  empty: Empty;
  tree: Tree;
}
export type Msg =
  | { type: "RenderUi"; value: RenderUi }
  | { type: "Demo"; value: Demo }
  | { type: "Everything"; value: Everything };

// One template serves both encodings through the shared Writer/Reader
// interfaces (generated code may instead emit one copy per encoding).
export function writePoint(w: Writer, v: Point): void {
  w.i32(v.x);
  w.i32(v.y);
}
export function readPoint(r: Reader): Point {
  return { x: r.i32(), y: r.i32() };
}
function writeEmpty(_w: Writer, _v: Empty): void {}
function readEmpty(_r: Reader): Empty {
  return {};
}
const COLOR_TO_WIRE: Readonly<Record<Color, number>> = { red: 1, green: 2, blue: 7 };
const COLOR_FROM_WIRE = enumTable<Color>([
  [1, "red"],
  [2, "green"],
  [7, "blue"],
]);
function writeShape(w: Writer, v: Shape): void {
  switch (v.kind) {
    case "empty":
      w.variant(0);
      break;
    case "circle":
      w.variant(1);
      w.f32(v.r);
      break;
    case "rect":
      w.variant(2);
      w.u8(v.w);
      w.u8(v.h);
      break;
  }
}
function readShape(r: Reader): Shape {
  return r.union(3, (r, i): Shape => {
    switch (i) {
      case 0:
        return { kind: "empty" };
      case 1:
        return { kind: "circle", r: r.f32() };
      default:
        return { kind: "rect", w: r.u8(), h: r.u8() };
    }
  });
}
export function writeTree(w: Writer, v: Tree): void {
  w.str(v.label);
  w.list(v.children, writeTree);
}
export function readTree(r: Reader): Tree {
  return { label: r.string(), children: r.list((r) => r.nested(readTree)) };
}
function writeRenderUi(w: Writer, v: RenderUi): void {
  w.str(v.id);
  w.str(v.tree);
}
function readRenderUi(r: Reader): RenderUi {
  return { id: r.string(), tree: r.string() };
}
function writeDemo(w: Writer, v: Demo): void {
  w.bool(v.flag);
  writePoint(w, v.pos);
  w.list(v.tags, (w, t) => w.str(t));
  w.optional(v.note, (w, n) => w.str(n));
}
function readDemo(r: Reader): Demo {
  const flag = r.bool();
  const pos = r.nested(readPoint);
  const tags = r.list((r) => r.string());
  const note = r.optional((r) => r.string());
  return note === undefined ? { flag, pos, tags } : { flag, pos, tags, note };
}
function writeEverything(w: Writer, v: Everything): void {
  w.bool(v.b);
  w.u8(v.u8);
  w.u16(v.u16);
  w.u32(v.u32);
  w.u64(v.u64);
  w.i8(v.i8);
  w.i16(v.i16);
  w.i32(v.i32);
  w.i64(v.i64);
  w.f32(v.f32);
  w.f64(v.f64);
  w.str(v.s);
  w.bytes(v.bytes);
  w.list(v.list, (w, x) => w.u16(x));
  w.map(v.smap, (w, k) => w.str(k), (w, x) => w.u8(x));
  w.map(v.imap, (w, k) => w.i32(k), (w, x) => w.bool(x));
  w.optional(v.opt, (w, x) => w.u32(x));
  w.optional(v.opt_s, (w, x) => w.str(x));
  w.optional(v.opt_b, (w, x) => w.bytes(x));
  w.optionalStruct(v.opt_p, writePoint);
  w.optionalStruct(v.opt_e, writeEmpty);
  w.enumValue(COLOR_TO_WIRE[v.color]);
  writeShape(w, v.shape);
  w.list(v.empties, writeEmpty);
  w.list(v.points, (w, p) => w.optionalStruct(p, writePoint));
  writeEmpty(w, v.empty);
  writeTree(w, v.tree);
}
function readEverything(r: Reader): Everything {
  // Object literal properties are evaluated in order: schema order.
  const v: Everything = {
    b: r.bool(),
    u8: r.u8(),
    u16: r.u16(),
    u32: r.u32(),
    u64: r.u64(),
    i8: r.i8(),
    i16: r.i16(),
    i32: r.i32(),
    i64: r.i64(),
    f32: r.f32(),
    f64: r.f64(),
    s: r.string(),
    bytes: r.bytes(),
    list: r.list((r) => r.u16()),
    smap: r.map(
      (r) => r.string(),
      (r) => r.u8(),
    ),
    imap: r.map(
      (r) => r.i32(),
      (r) => r.bool(),
    ),
    color: "red",
    shape: { kind: "empty" },
    empties: [],
    points: [],
    empty: {},
    tree: { label: "", children: [] },
  };
  const opt = r.optional((r) => r.u32());
  if (opt !== undefined) v.opt = opt;
  const opt_s = r.optional((r) => r.string());
  if (opt_s !== undefined) v.opt_s = opt_s;
  const opt_b = r.optional((r) => r.bytes());
  if (opt_b !== undefined) v.opt_b = opt_b;
  const opt_p = r.optionalStruct(readPoint);
  if (opt_p !== undefined) v.opt_p = opt_p;
  const opt_e = r.optionalStruct(readEmpty);
  if (opt_e !== undefined) v.opt_e = opt_e;
  v.color = r.enumValue(COLOR_FROM_WIRE);
  v.shape = readShape(r);
  v.empties = r.list((r) => r.nested(readEmpty));
  v.points = r.list((r) => r.optionalStruct(readPoint));
  v.empty = r.nested(readEmpty);
  v.tree = r.nested(readTree);
  return v;
}

const HEADERS = { RenderUi: "aa", Demo: "ab", Everything: "ac" } as const;

function writeMsg(w: Writer, m: Msg): void {
  switch (m.type) {
    case "RenderUi":
      return writeRenderUi(w, m.value);
    case "Demo":
      return writeDemo(w, m.value);
    case "Everything":
      return writeEverything(w, m.value);
  }
}

function readMsg(r: Reader): Msg {
  let m: Msg;
  switch (r.header) {
    case "aa":
      m = { type: "RenderUi", value: readRenderUi(r) };
      break;
    case "ab":
      m = { type: "Demo", value: readDemo(r) };
      break;
    case "ac":
      m = { type: "Everything", value: readEverything(r) };
      break;
    default:
      throw r.unknownHeader();
  }
  r.finish();
  return m;
}

export function encodeText(m: Msg): string {
  const w = new TextWriter(HEADERS[m.type]);
  writeMsg(w, m);
  return w.finish();
}

const shared = new BinaryWriter();

export function encodeBinary(m: Msg): Uint8Array {
  const w = shared.begin(HEADERS[m.type]);
  writeMsg(w, m);
  return w.finish();
}

export function decodeText(frame: string, limits: Limits = DEFAULT_LIMITS): Msg {
  return readMsg(new TextReader(frame, limits));
}

export function decodeBinary(frame: Uint8Array, limits: Limits = DEFAULT_LIMITS): Msg {
  return readMsg(new BinaryReader(frame, limits));
}

/** runtime/rust/tests/common's sample(): something interesting in every field. */
export function sample(): Everything {
  return {
    b: true,
    u8: 255,
    u16: 300,
    u32: 4294967295,
    u64: 18446744073709551615n,
    i8: -128,
    i16: -1,
    i32: -150,
    i64: -9223372036854775808n,
    f32: 0.1,
    f64: -0,
    s: "~a|b\\c\r\n🎉",
    bytes: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
    list: [1, 300],
    smap: new Map([
      ["b", 2],
      ["a", 1],
      ["é", 3],
    ]),
    imap: new Map([
      [10, true],
      [-5, false],
    ]),
    opt_s: "~",
    opt_b: new Uint8Array(0),
    opt_p: { x: 1, y: -1 },
    opt_e: {},
    color: "blue",
    shape: { kind: "rect", w: 3, h: 4 },
    empties: [{}, {}],
    points: [undefined, { x: 0, y: 0 }],
    empty: {},
    tree: { label: "root", children: [{ label: "", children: [] }] },
  };
}
