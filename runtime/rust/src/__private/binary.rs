//! Binary encoding (SPEC §4): header, then fields with no tags.

use super::codec::{Reader, Writer};
use super::tag::depth_exceeded;
use crate::{DecodeError, DecodeErrorKind as K, Header, Limits, Position};

/// Bit patterns every implementation writes for NaN, so equal values give
/// equal bytes even where NaN payloads cannot be controlled (JavaScript).
const CANONICAL_NAN_F32: u32 = 0x7FC0_0000;
const CANONICAL_NAN_F64: u64 = 0x7FF8_0000_0000_0000;

/// Appends one binary frame to a caller's `Vec<u8>`.
///
/// Same method names and shapes as [`super::TextWriter`], so the compiler
/// can emit one template for both encodings.
#[derive(Debug)]
pub struct BinaryWriter<'a> {
    out: &'a mut Vec<u8>,
}

/// Lengths and counts are `u32` varints on the wire; nothing that large could
/// pass a decoder's limits anyway, so a bigger one is a caller bug.
#[inline]
fn wire_len(len: usize) -> u64 {
    match u32::try_from(len) {
        Ok(n) => n.into(),
        Err(_) => panic!("tagwire: a string, bytes, list or map has more than u32::MAX elements"),
    }
}

impl<'a> BinaryWriter<'a> {
    /// Starts a frame by writing the header.
    #[inline]
    pub fn new(out: &'a mut Vec<u8>, header: Header) -> Self {
        out.extend_from_slice(&header.to_bytes());
        BinaryWriter { out }
    }

    #[inline]
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    #[inline]
    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }
}

impl<'a> Writer for BinaryWriter<'a> {
    #[inline]
    fn count(&mut self, len: usize) {
        self.varint(wire_len(len));
    }

    /// A presence byte, 0 or 1, whatever the value.
    #[inline]
    fn presence(&mut self, present: bool, _is_struct: bool) {
        self.out.push(u8::from(present));
    }

    /// One byte, 0 or 1.
    #[inline]
    fn bool(&mut self, v: bool) {
        self.out.push(u8::from(v));
    }

    /// One raw byte.
    #[inline]
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    /// LEB128.
    #[inline]
    fn u16(&mut self, v: u16) {
        self.varint(v.into());
    }

    /// LEB128.
    #[inline]
    fn u32(&mut self, v: u32) {
        self.varint(v.into());
    }

    /// LEB128.
    #[inline]
    fn u64(&mut self, v: u64) {
        self.varint(v);
    }

    /// One two's-complement byte.
    #[inline]
    fn i8(&mut self, v: i8) {
        self.out.push(v as u8);
    }

    /// Zigzag LEB128.
    #[inline]
    fn i16(&mut self, v: i16) {
        self.zigzag(v.into());
    }

    /// Zigzag LEB128.
    #[inline]
    fn i32(&mut self, v: i32) {
        self.zigzag(v.into());
    }

    /// Zigzag LEB128.
    #[inline]
    fn i64(&mut self, v: i64) {
        self.zigzag(v);
    }

    /// Little-endian; NaN canonicalised.
    #[inline]
    fn f32(&mut self, v: f32) {
        let bits = if v.is_nan() {
            CANONICAL_NAN_F32
        } else {
            v.to_bits()
        };
        self.out.extend_from_slice(&bits.to_le_bytes());
    }

    /// Little-endian; NaN canonicalised.
    #[inline]
    fn f64(&mut self, v: f64) {
        let bits = if v.is_nan() {
            CANONICAL_NAN_F64
        } else {
            v.to_bits()
        };
        self.out.extend_from_slice(&bits.to_le_bytes());
    }

    /// Byte length, then UTF-8.
    #[inline]
    fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }

    /// Length, then raw bytes.
    #[inline]
    fn bytes(&mut self, v: &[u8]) {
        self.varint(wire_len(v.len()));
        self.out.extend_from_slice(v);
    }
}

/// Reads one binary frame, checking every value strictly.
///
/// Errors point at the first byte of the item being read (SPEC §6.2).
#[derive(Debug)]
pub struct BinaryReader<'a> {
    frame: &'a [u8],
    pos: usize,
    depth: usize,
    limits: Limits,
    header: Header,
}

type R<T> = Result<T, DecodeError>;

fn err(kind: K, at: usize) -> DecodeError {
    DecodeError::new(kind, Position::Byte(at))
}

impl<'a> BinaryReader<'a> {
    /// Checks the frame's size and header bytes; whether the header belongs
    /// to the protocol is the caller's `match`.
    #[inline]
    pub fn new(frame: &'a [u8], limits: &Limits) -> R<Self> {
        if frame.len() > limits.max_frame_bytes {
            return Err(err(K::FrameTooLarge, 0));
        }
        let header = match frame {
            [a, b, ..] => Header::from_bytes([*a, *b]).ok_or(err(K::UnknownHeader, 0))?,
            _ => return Err(err(K::Truncated, 0)),
        };
        Ok(BinaryReader {
            frame,
            pos: 2,
            depth: 0,
            limits: *limits,
            header,
        })
    }

    /// Ends decoding with every byte left, verbatim: the inner frame of an
    /// envelope (SPEC §9.7), which its own decoder reads.
    pub fn rest(self) -> &'a [u8] {
        self.frame.get(self.pos..).unwrap_or_default()
    }

    /// Ends decoding: any byte left is trailing data.
    #[inline]
    pub fn finish(self) -> R<()> {
        if self.pos < self.frame.len() {
            return Err(err(K::TrailingData, self.pos));
        }
        Ok(())
    }

    /// `n` bytes, or `truncated` at `item` (the start of the value they belong to).
    #[inline]
    fn take(&mut self, n: usize, item: usize) -> R<&'a [u8]> {
        if n > self.remaining() {
            return Err(err(K::Truncated, item));
        }
        let out = &self.frame[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let at = self.pos;
        let bytes = self.take(N, at)?;
        <[u8; N]>::try_from(bytes).map_err(|_| err(K::Truncated, at))
    }

    /// Unsigned LEB128 of at most `max_bytes` bytes and at most `max`
    /// (every caller's `max` is at least 127, so one byte always fits).
    #[inline]
    fn varint(&mut self, max_bytes: usize, max: u64) -> R<u64> {
        match self.frame.get(self.pos) {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Ok(b.into())
            }
            _ => self.long_varint(max_bytes, max),
        }
    }

    fn long_varint(&mut self, max_bytes: usize, max: u64) -> R<u64> {
        let start = self.pos;
        let bytes = self.frame.get(start..).unwrap_or_default();
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let Some(&b) = bytes.get(i) else {
                return Err(err(K::Truncated, start));
            };
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(err(K::InvalidVarint, start));
                }
                // A 10th byte carries bit 63 only; more is beyond any u64.
                if i == 9 && b > 1 {
                    return Err(err(K::OutOfRange, start));
                }
                value |= u64::from(b) << (7 * i);
                if value > max {
                    return Err(err(K::OutOfRange, start));
                }
                self.pos = start + i + 1;
                return Ok(value);
            }
            value |= u64::from(b & 0x7F) << (7 * i);
        }
        Err(err(K::InvalidVarint, start))
    }

    #[inline]
    fn zigzag(&mut self, max_bytes: usize, max: u64) -> R<i64> {
        let u = self.varint(max_bytes, max)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    #[inline]
    fn flag(&mut self) -> R<bool> {
        let at = self.pos;
        match self.array::<1>()? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(err(K::InvalidBool, at)),
        }
    }

    /// Length-prefixed slice, checked against the limit before the input.
    #[inline]
    fn sized(&mut self) -> R<(&'a [u8], usize)> {
        let at = self.pos;
        let len = self.varint(5, u32::MAX.into())?;
        if len > self.limits.max_string_bytes as u64 {
            return Err(err(K::StringTooLong, at));
        }
        // `len` fits the limit, itself a usize.
        let bytes = self.take(len as usize, at)?;
        Ok((bytes, at))
    }
}

impl<'a> Reader for BinaryReader<'a> {
    #[inline]
    fn position(&self) -> Position {
        Position::Byte(self.pos)
    }

    #[inline]
    fn enter(&mut self) -> R<()> {
        if self.depth >= self.limits.max_depth {
            return Err(depth_exceeded(Position::Byte(self.pos)));
        }
        self.depth += 1;
        Ok(())
    }

    #[inline]
    fn leave(&mut self) {
        self.depth -= 1;
    }

    #[inline]
    fn count(&mut self) -> R<usize> {
        let at = self.pos;
        let n = self.varint(5, u32::MAX.into())?;
        match usize::try_from(n) {
            Ok(n) if n <= self.limits.max_collection_len => Ok(n),
            _ => Err(err(K::CollectionTooLong, at)),
        }
    }

    #[inline]
    fn remaining(&self) -> usize {
        self.frame.len() - self.pos
    }

    /// A presence byte, 0 or 1, whatever the value.
    #[inline]
    fn present(&mut self, _is_struct: bool) -> R<bool> {
        self.flag()
    }

    /// The frame's header, for the generated `match`.
    #[inline]
    fn header(&self) -> Header {
        self.header
    }

    /// The error for a header this protocol does not know.
    fn unknown_header(&self) -> DecodeError {
        err(K::UnknownHeader, 0)
    }

    /// Byte 0 or 1.
    #[inline]
    fn bool(&mut self) -> R<bool> {
        self.flag()
    }

    /// One raw byte.
    #[inline]
    fn u8(&mut self) -> R<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// LEB128, at most 3 bytes.
    #[inline]
    fn u16(&mut self) -> R<u16> {
        Ok(self.varint(3, u16::MAX.into())? as u16)
    }

    /// LEB128, at most 5 bytes.
    #[inline]
    fn u32(&mut self) -> R<u32> {
        Ok(self.varint(5, u32::MAX.into())? as u32)
    }

    /// LEB128, at most 10 bytes.
    #[inline]
    fn u64(&mut self) -> R<u64> {
        self.varint(10, u64::MAX)
    }

    /// One two's-complement byte.
    #[inline]
    fn i8(&mut self) -> R<i8> {
        Ok(self.array::<1>()?[0] as i8)
    }

    /// Zigzag LEB128, at most 3 bytes.
    #[inline]
    fn i16(&mut self) -> R<i16> {
        Ok(self.zigzag(3, u16::MAX.into())? as i16)
    }

    /// Zigzag LEB128, at most 5 bytes.
    #[inline]
    fn i32(&mut self) -> R<i32> {
        Ok(self.zigzag(5, u32::MAX.into())? as i32)
    }

    /// Zigzag LEB128, at most 10 bytes.
    #[inline]
    fn i64(&mut self) -> R<i64> {
        self.zigzag(10, u64::MAX)
    }

    /// Little-endian; any NaN bit pattern is accepted as is.
    #[inline]
    fn f32(&mut self) -> R<f32> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    /// Little-endian; any NaN bit pattern is accepted as is.
    #[inline]
    fn f64(&mut self) -> R<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// Length-prefixed UTF-8.
    #[inline]
    fn string(&mut self) -> R<String> {
        let (bytes, at) = self.sized()?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(err(K::InvalidUtf8, at)),
        }
    }

    /// Length-prefixed raw bytes.
    #[inline]
    fn bytes(&mut self) -> R<Vec<u8>> {
        Ok(self.sized()?.0.to_vec())
    }
}

/// What the borrowing decode (`super::borrow`) reads: the frame's own bytes.
impl<'a> BinaryReader<'a> {
    /// Length-prefixed UTF-8, borrowed from the frame: checked as
    /// [`Reader::string`] checks it, without the copy.
    #[inline]
    pub fn str_ref(&mut self) -> R<&'a str> {
        let (bytes, at) = self.sized()?;
        std::str::from_utf8(bytes).map_err(|_| err(K::InvalidUtf8, at))
    }

    /// Length-prefixed raw bytes, borrowed from the frame.
    #[inline]
    pub fn bytes_ref(&mut self) -> R<&'a [u8]> {
        Ok(self.sized()?.0)
    }
}
