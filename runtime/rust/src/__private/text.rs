//! Text encoding (SPEC §3): `HH|token|token…`.

use super::base64url;
use super::codec::{Reader, Writer};
use super::scan::{find_any, find_byte, push_dyadic, push_int};
use super::tag::depth_exceeded;
use crate::{DecodeError, DecodeErrorKind as K, Header, Limits, Position};

/// Appends one text frame to a caller's `String`.
///
/// Every method writes `|` and one token (or, for composites, a count or
/// marker token followed by what the closures write), so generated code is a
/// straight list of calls in field order. Nothing here allocates beyond
/// growing `out`.
#[derive(Debug)]
pub struct TextWriter<'a> {
    out: &'a mut String,
}

impl<'a> TextWriter<'a> {
    /// Starts a frame by writing the header: two ASCII bytes pushed as
    /// chars, which skips the UTF-8 check `Header::as_str` makes.
    #[inline]
    pub fn new(out: &'a mut String, header: Header) -> Self {
        let [a, b] = header.to_bytes();
        out.push(char::from(a));
        out.push(char::from(b));
        TextWriter { out }
    }

    #[inline]
    fn sep(&mut self) {
        self.out.push('|');
    }

    /// `|` and the integer in decimal.
    #[inline]
    fn int(&mut self, v: impl itoa::Integer) {
        self.sep();
        push_int(self.out, v);
    }
}

impl<'a> Writer for TextWriter<'a> {
    #[inline]
    fn count(&mut self, len: usize) {
        self.int(len);
    }

    /// `~` when absent; `+` before a present struct, which has no token of
    /// its own that could tell presence apart; nothing before other values.
    #[inline]
    fn presence(&mut self, present: bool, is_struct: bool) {
        match (present, is_struct) {
            (false, _) => self.out.push_str("|~"),
            (true, true) => self.out.push_str("|+"),
            (true, false) => {}
        }
    }

    /// `1` or `0`.
    #[inline]
    fn bool(&mut self, v: bool) {
        self.out.push_str(if v { "|1" } else { "|0" });
    }

    /// Decimal.
    #[inline]
    fn u8(&mut self, v: u8) {
        self.int(v);
    }

    /// Decimal.
    #[inline]
    fn u16(&mut self, v: u16) {
        self.int(v);
    }

    /// Decimal.
    #[inline]
    fn u32(&mut self, v: u32) {
        self.int(v);
    }

    /// Decimal.
    #[inline]
    fn u64(&mut self, v: u64) {
        self.int(v);
    }

    /// Decimal.
    #[inline]
    fn i8(&mut self, v: i8) {
        self.int(v);
    }

    /// Decimal.
    #[inline]
    fn i16(&mut self, v: i16) {
        self.int(v);
    }

    /// Decimal.
    #[inline]
    fn i32(&mut self, v: i32) {
        self.int(v);
    }

    /// Decimal.
    #[inline]
    fn i64(&mut self, v: i64) {
        self.int(v);
    }

    /// Widened to `f64` first: JavaScript can only print the `f64` form, and
    /// both sides must produce the same token.
    #[inline]
    fn f32(&mut self, v: f32) {
        self.f64(f64::from(v));
    }

    /// JavaScript's `Number#toString` spelling, except `-0` keeps its sign.
    #[inline]
    fn f64(&mut self, v: f64) {
        self.sep();
        if v == 0.0 && v.is_sign_negative() {
            self.out.push_str("-0");
        } else if v.is_nan() {
            // ryu-js already says "NaN" for every NaN; spelled out so the
            // SPEC's "all NaNs encode as NaN" does not rest on that detail.
            self.out.push_str("NaN");
        } else if !push_dyadic(self.out, v) {
            self.out.push_str(ryu_js::Buffer::new().format(v));
        }
    }

    /// Escaped so the token holds no `|`, CR or LF and never starts with a
    /// raw `~` (which would read as "absent").
    #[inline]
    fn str(&mut self, v: &str) {
        self.sep();
        let rest = match v.strip_prefix('~') {
            Some(rest) => {
                self.out.push_str("\\~");
                rest
            }
            None => v,
        };
        let bytes = rest.as_bytes();
        let mut start = 0;
        while let Some(found) = find_any(&bytes[start..], [b'\\', b'|', b'\n', b'\r']) {
            let i = start + found;
            let escape = match bytes[i] {
                b'\\' => "\\\\",
                b'|' => "\\p",
                b'\n' => "\\n",
                _ => "\\r",
            };
            // `i` is at an ASCII byte, so both slices fall on char boundaries.
            self.out.push_str(&rest[start..i]);
            self.out.push_str(escape);
            start = i + 1;
        }
        self.out.push_str(&rest[start..]);
    }

    /// Unpadded base64url.
    fn bytes(&mut self, v: &[u8]) {
        self.sep();
        base64url::encode(v, self.out);
    }
}

/// Reads one text frame token by token, checking every token strictly.
///
/// Generated code mirrors the writer: one call per field, in order, then
/// [`TextReader::finish`]. Errors carry the token index and byte offset.
#[derive(Debug)]
pub struct TextReader<'a> {
    frame: &'a str,
    /// Offset of the next `|`, or the frame's length when no token is left.
    pos: usize,
    /// Index of the next token (the header is 0).
    index: usize,
    depth: usize,
    limits: Limits,
    header: Header,
}

type R<T> = Result<T, DecodeError>;

impl<'a> TextReader<'a> {
    /// Checks the frame's size and header bytes. Whether the header belongs
    /// to the protocol is the caller's `match`; the separator after the
    /// header is checked by the first read, so an unknown header is reported
    /// before a missing `|` (SPEC §6.1).
    #[inline]
    pub fn new(frame: &'a str, limits: &Limits) -> R<Self> {
        let at0 = Position::Token { index: 0, byte: 0 };
        if frame.len() > limits.max_frame_bytes {
            return Err(DecodeError::new(K::FrameTooLarge, at0));
        }
        let header = match frame.as_bytes() {
            [a, b, ..] => {
                Header::from_bytes([*a, *b]).ok_or(DecodeError::new(K::UnknownHeader, at0))?
            }
            _ => return Err(DecodeError::new(K::Truncated, at0)),
        };
        Ok(TextReader {
            frame,
            pos: 2,
            index: 1,
            depth: 0,
            limits: *limits,
            header,
        })
    }

    /// Where the next token starts (the frame's end when there is none).
    #[inline]
    fn here(&self) -> Position {
        Position::Token {
            index: self.index,
            byte: (self.pos + 1).min(self.frame.len()),
        }
    }

    fn err(kind: K, at: Position) -> DecodeError {
        DecodeError::new(kind, at)
    }

    /// Takes the next token and its position.
    #[inline]
    fn token(&mut self) -> R<(&'a str, Position)> {
        let bytes = self.frame.as_bytes();
        match bytes.get(self.pos) {
            None => {
                let at = Position::Token {
                    index: self.index,
                    byte: self.frame.len(),
                };
                return Err(Self::err(K::Truncated, at));
            }
            Some(b'|') => {}
            Some(_) => {
                let at = Position::Token {
                    index: self.index,
                    byte: self.pos,
                };
                return Err(Self::err(K::MissingSeparator, at));
            }
        }
        let start = self.pos + 1;
        let end = find_byte(&bytes[start..], b'|').map_or(bytes.len(), |i| start + i);
        let at = Position::Token {
            index: self.index,
            byte: start,
        };
        // Both ends sit next to an ASCII `|` or at the end: char boundaries.
        let token = self
            .frame
            .get(start..end)
            .ok_or(Self::err(K::InvalidUtf8, at))?;
        self.pos = end;
        self.index += 1;
        Ok((token, at))
    }

    /// The next token as a string when it holds nothing to unescape or
    /// reject: one search finds both its end and any escape, where
    /// [`TextReader::token`] then [`unescape`] would search twice. `None`
    /// (nothing consumed) sends every other case down the general path.
    #[inline]
    fn plain_string(&mut self) -> R<Option<String>> {
        let bytes = self.frame.as_bytes();
        if bytes.get(self.pos) != Some(&b'|') {
            return Ok(None);
        }
        let start = self.pos + 1;
        let end = match find_any(&bytes[start..], [b'|', b'\\', b'\r', b'\n']) {
            None => bytes.len(),
            Some(i) if bytes[start + i] == b'|' => start + i,
            Some(_) => return Ok(None),
        };
        if bytes.get(start) == Some(&b'~') {
            return Ok(None);
        }
        let at = Position::Token {
            index: self.index,
            byte: start,
        };
        if end - start > self.limits.max_string_bytes {
            return Err(Self::err(K::StringTooLong, at));
        }
        // Both ends sit next to an ASCII `|` or at the end: char boundaries.
        let Some(token) = self.frame.get(start..end) else {
            return Ok(None);
        };
        self.pos = end;
        self.index += 1;
        Ok(Some(token.to_owned()))
    }

    /// Whether the next token is exactly `~` (an absent optional), without
    /// searching for its end: only the two bytes after the `|` matter.
    #[inline]
    fn absent_next(&self) -> bool {
        let bytes = self.frame.as_bytes();
        bytes.get(self.pos) == Some(&b'|')
            && bytes.get(self.pos + 1) == Some(&b'~')
            && matches!(bytes.get(self.pos + 2), None | Some(b'|'))
    }

    /// Ends decoding with everything after the next `|`, verbatim: the inner
    /// frame of an envelope (SPEC §9.7), which its own decoder reads.
    pub fn rest(self) -> R<&'a str> {
        match self.frame.as_bytes().get(self.pos) {
            Some(b'|') => Ok(self.frame.get(self.pos + 1..).unwrap_or_default()),
            None => Err(Self::err(
                K::Truncated,
                Position::Token {
                    index: self.index,
                    byte: self.frame.len(),
                },
            )),
            Some(_) => Err(Self::err(
                K::MissingSeparator,
                Position::Token {
                    index: self.index,
                    byte: self.pos,
                },
            )),
        }
    }

    /// Ends decoding: anything left is trailing data.
    #[inline]
    pub fn finish(self) -> R<()> {
        match self.frame.as_bytes().get(self.pos) {
            None => Ok(()),
            Some(b'|') => Err(Self::err(K::TrailingData, self.here())),
            Some(_) => {
                let at = Position::Token {
                    index: self.index,
                    byte: self.pos,
                };
                Err(Self::err(K::MissingSeparator, at))
            }
        }
    }

    /// The next token when it is `-?(0|[1-9][0-9]*)` with at most 19
    /// digits (not `-0`), read in the same pass that finds its end: the sign,
    /// the digits' value and where the token starts. `None`, with nothing
    /// consumed, for anything else, which the general path (a
    /// [`TextReader::token`], then [`parse_decimal`]) accepts or rejects with
    /// its error. Inlined into every integer read (several per message), it
    /// returns no `Position`: only errors build one, from the start.
    #[inline(always)]
    fn short_int(&mut self) -> Option<(bool, u64, usize)> {
        let bytes = self.frame.as_bytes();
        if bytes.get(self.pos) != Some(&b'|') {
            return None;
        }
        let start = self.pos + 1;
        let negative = bytes.get(start) == Some(&b'-');
        let first = start + usize::from(negative);
        let digits = bytes.get(first..)?;
        // Wrapping: a 20th digit is rejected after the loop, so the loop
        // itself checks nothing but the digit.
        let mut n: u64 = 0;
        let mut len = 0;
        for &b in digits {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            n = n.wrapping_mul(10).wrapping_add(u64::from(d));
            len += 1;
        }
        let malformed = len == 0 || len > 19 || (digits[0] == b'0' && (len > 1 || negative));
        if malformed || !matches!(digits.get(len), None | Some(b'|')) {
            return None;
        }
        self.pos = first + len;
        self.index += 1;
        Some((negative, n, start))
    }

    /// Where a token read by [`TextReader::short_int`] started: it was the
    /// previous token.
    #[cold]
    fn short_err(&self, kind: K, start: usize) -> DecodeError {
        Self::err(
            kind,
            Position::Token {
                index: self.index - 1,
                byte: start,
            },
        )
    }

    /// A decimal token as `T`: [`TextReader::short_int`], or the general
    /// path, which also picks the error.
    #[inline]
    fn int<T: TryFrom<i64> + TryFrom<i128>>(&mut self) -> R<T> {
        match self.short_int() {
            // 2^63 wraps to `i64::MIN` in the cast, and `0 - MIN` wraps back to it.
            Some((true, n, at)) if n <= 1 << 63 => T::try_from(0i64.wrapping_sub(n as i64))
                .map_err(|_| self.short_err(K::OutOfRange, at)),
            Some((false, n, at)) => i64::try_from(n)
                .ok()
                .and_then(|n| T::try_from(n).ok())
                .ok_or_else(|| self.short_err(K::OutOfRange, at)),
            Some((true, _, at)) => Err(self.short_err(K::OutOfRange, at)),
            None => self.general_int(),
        }
    }

    /// An unsigned decimal token as `T` (see [`TextReader::int`]).
    #[inline]
    fn uint<T: TryFrom<u64> + TryFrom<i128>>(&mut self) -> R<T> {
        match self.short_int() {
            Some((false, n, at)) => T::try_from(n).map_err(|_| self.short_err(K::OutOfRange, at)),
            Some((true, _, at)) => Err(self.short_err(K::OutOfRange, at)),
            None => self.general_int(),
        }
    }

    /// Any decimal token, or why it is not one as `T`.
    #[cold]
    fn general_int<T: TryFrom<i128>>(&mut self) -> R<T> {
        let (t, at) = self.token()?;
        let n = parse_decimal(t).map_err(|k| Self::err(k, at))?;
        T::try_from(n).map_err(|_| Self::err(K::OutOfRange, at))
    }

    /// The next token when it is `-?(0|[1-9][0-9]*)(.[0-9]+)?` with at most
    /// 15 digits, read in the same pass that finds its end, with the value
    /// [`parse_float`] gives it (Clinger's fast path). `None`, with nothing
    /// consumed, for anything else, which the general path accepts or
    /// rejects with its error.
    #[inline]
    fn short_float(&mut self) -> Option<f64> {
        let bytes = self.frame.as_bytes();
        if bytes.get(self.pos) != Some(&b'|') {
            return None;
        }
        let start = self.pos + 1;
        let negative = bytes.get(start) == Some(&b'-');
        let int_start = start + usize::from(negative);
        let mut i = int_start;
        // Wrapping: more than 15 digits go the general way below.
        let mut mantissa: u64 = 0;
        let mut digits = |i: &mut usize| {
            let from = *i;
            while let Some(d) = bytes
                .get(*i)
                .map(|b| b.wrapping_sub(b'0'))
                .filter(|d| *d <= 9)
            {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
                *i += 1;
            }
            *i - from
        };
        let n = digits(&mut i);
        if n == 0 || (n > 1 && bytes[int_start] == b'0') {
            return None;
        }
        let mut fraction = 0;
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            fraction = digits(&mut i);
            if fraction == 0 {
                return None;
            }
        }
        if n + fraction > 15 || !matches!(bytes.get(i), None | Some(b'|')) {
            return None;
        }
        let v = mantissa as f64 / POW10.get(fraction)?;
        self.pos = i;
        self.index += 1;
        Some(if negative { -v } else { v })
    }
}

impl<'a> Reader for TextReader<'a> {
    #[inline]
    fn position(&self) -> Position {
        self.here()
    }

    #[inline]
    fn enter(&mut self) -> R<()> {
        if self.depth >= self.limits.max_depth {
            return Err(depth_exceeded(self.here()));
        }
        self.depth += 1;
        Ok(())
    }

    #[inline]
    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// A count token: never negative, so any `-` is malformed, however many
    /// digits follow.
    #[inline]
    fn count(&mut self) -> R<usize> {
        match self.short_int() {
            Some((false, n, at)) => {
                return match usize::try_from(n) {
                    Ok(n) if n <= self.limits.max_collection_len => Ok(n),
                    _ => Err(self.short_err(K::CollectionTooLong, at)),
                };
            }
            Some((true, _, at)) => return Err(self.short_err(K::InvalidToken, at)),
            None => {}
        }
        let (t, at) = self.token()?;
        if t.starts_with('-') {
            return Err(Self::err(K::InvalidToken, at));
        }
        let n = match parse_decimal(t) {
            Ok(n) => n,
            Err(K::OutOfRange) => return Err(Self::err(K::CollectionTooLong, at)),
            Err(k) => return Err(Self::err(k, at)),
        };
        match usize::try_from(n) {
            Ok(n) if n <= self.limits.max_collection_len => Ok(n),
            _ => Err(Self::err(K::CollectionTooLong, at)),
        }
    }

    #[inline]
    fn remaining(&self) -> usize {
        self.frame.len().saturating_sub(self.pos)
    }

    /// `~` is absent. A struct must then be announced by `+` (anything else
    /// is invalid); any other value is simply its own tokens.
    #[inline]
    fn present(&mut self, is_struct: bool) -> R<bool> {
        if is_struct {
            let (t, at) = self.token()?;
            return match t {
                "~" => Ok(false),
                "+" => Ok(true),
                _ => Err(Self::err(K::InvalidToken, at)),
            };
        }
        if self.absent_next() {
            self.token()?;
            Ok(false)
        } else {
            Ok(true)
        }
    }

    /// The frame's header, for the generated `match`.
    #[inline]
    fn header(&self) -> Header {
        self.header
    }

    /// The error for a header this protocol does not know.
    fn unknown_header(&self) -> DecodeError {
        DecodeError::new(K::UnknownHeader, Position::Token { index: 0, byte: 0 })
    }

    /// `1` or `0`.
    #[inline]
    fn bool(&mut self) -> R<bool> {
        let bytes = self.frame.as_bytes();
        if bytes.get(self.pos) == Some(&b'|')
            && matches!(bytes.get(self.pos + 2), None | Some(b'|'))
        {
            let value = match bytes.get(self.pos + 1) {
                Some(b'1') => Some(true),
                Some(b'0') => Some(false),
                _ => None,
            };
            if let Some(value) = value {
                self.pos += 2;
                self.index += 1;
                return Ok(value);
            }
        }
        let (t, at) = self.token()?;
        match t {
            "1" => Ok(true),
            "0" => Ok(false),
            _ => Err(Self::err(K::InvalidBool, at)),
        }
    }

    /// Strict decimal.
    #[inline]
    fn u8(&mut self) -> R<u8> {
        self.uint()
    }

    /// Strict decimal.
    #[inline]
    fn u16(&mut self) -> R<u16> {
        self.uint()
    }

    /// Strict decimal.
    #[inline]
    fn u32(&mut self) -> R<u32> {
        self.uint()
    }

    /// Strict decimal.
    #[inline]
    fn u64(&mut self) -> R<u64> {
        self.uint()
    }

    /// Strict decimal.
    #[inline]
    fn i8(&mut self) -> R<i8> {
        self.int()
    }

    /// Strict decimal.
    #[inline]
    fn i16(&mut self) -> R<i16> {
        self.int()
    }

    /// Strict decimal.
    #[inline]
    fn i32(&mut self) -> R<i32> {
        self.int()
    }

    /// Strict decimal.
    #[inline]
    fn i64(&mut self) -> R<i64> {
        self.int()
    }

    /// Parsed as `f64`, then rounded to `f32` (the two-step rounding every
    /// language can reproduce, e.g. `Math.fround`).
    #[inline]
    fn f32(&mut self) -> R<f32> {
        // Below 10^15: never beyond the `f32` range.
        #[allow(clippy::cast_possible_truncation)]
        if let Some(wide) = self.short_float() {
            return Ok(wide as f32);
        }
        let (t, at) = self.token()?;
        let wide = parse_float(t).map_err(|k| Self::err(k, at))?;
        #[allow(clippy::cast_possible_truncation)]
        let narrow = wide as f32;
        if narrow.is_infinite() && wide.is_finite() {
            return Err(Self::err(K::OutOfRange, at));
        }
        Ok(narrow)
    }

    /// Any spelling in the SPEC's float grammar, or `NaN`/`Infinity`/`-Infinity`.
    #[inline]
    fn f64(&mut self) -> R<f64> {
        if let Some(v) = self.short_float() {
            return Ok(v);
        }
        let (t, at) = self.token()?;
        parse_float(t).map_err(|k| Self::err(k, at))
    }

    /// Unescaped, and bounded by `max_string_bytes`.
    #[inline]
    fn string(&mut self) -> R<String> {
        if let Some(s) = self.plain_string()? {
            return Ok(s);
        }
        let (t, at) = self.token()?;
        let s = unescape(t).map_err(|k| Self::err(k, at))?;
        if s.len() > self.limits.max_string_bytes {
            return Err(Self::err(K::StringTooLong, at));
        }
        Ok(s)
    }

    /// Strict unpadded base64url, bounded by `max_string_bytes` before decoding.
    fn bytes(&mut self) -> R<Vec<u8>> {
        let (t, at) = self.token()?;
        let len = base64url::decoded_len(t.len()).ok_or(Self::err(K::InvalidBase64, at))?;
        if len > self.limits.max_string_bytes {
            return Err(Self::err(K::StringTooLong, at));
        }
        base64url::decode(t.as_bytes()).ok_or(Self::err(K::InvalidBase64, at))
    }
}

/// `0|-?[1-9][0-9]*`, as a wide integer so every schema type can range-check
/// it afterwards.
pub(crate) fn parse_decimal(t: &str) -> Result<i128, K> {
    let (negative, digits) = match t.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    match digits {
        [] => Err(K::InvalidToken),
        [b'0'] if !negative => Ok(0),
        // Up to 19 digits fit a u64: check and accumulate in one pass.
        [b'1'..=b'9', ..] if digits.len() <= 19 => {
            let mut n: u64 = 0;
            for &d in digits {
                let d = d.wrapping_sub(b'0');
                if d > 9 {
                    return Err(K::InvalidToken);
                }
                n = n * 10 + u64::from(d);
            }
            let n = i128::from(n);
            Ok(if negative { -n } else { n })
        }
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => {
            let mut n: i128 = 0;
            for &d in digits {
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(i128::from(d - b'0')))
                    .ok_or(K::OutOfRange)?;
            }
            Ok(if negative { -n } else { n })
        }
        _ => Err(K::InvalidToken),
    }
}

/// 10^0 to 10^15, exact as doubles.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The SPEC's float grammar, checked before handing the token to Rust's
/// (correctly rounding, but more permissive) parser.
fn parse_float(t: &str) -> Result<f64, K> {
    match t {
        "NaN" => return Ok(f64::NAN),
        "Infinity" => return Ok(f64::INFINITY),
        "-Infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let b = t.as_bytes();
    let negative = b.first() == Some(&b'-');
    let mut i = usize::from(negative);
    // The digits as an integer (wrapping: only used when there are few).
    let mut mantissa: u64 = 0;
    let mut digits = |i: &mut usize| {
        let start = *i;
        while let Some(d) = b.get(*i).filter(|d| d.is_ascii_digit()) {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return Err(K::InvalidToken);
    }
    let mut fraction = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        fraction = digits(&mut i);
        if fraction == 0 {
            return Err(K::InvalidToken);
        }
    }
    if i == b.len() && n + fraction <= 15 {
        // Clinger's fast path: the digits (below 10^15 < 2^53) and the power
        // of ten are exact doubles, so one division rounds correctly.
        let v = mantissa as f64 / POW10[fraction];
        return Ok(if negative { -v } else { v });
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return Err(K::InvalidToken);
        }
    }
    if i != b.len() {
        return Err(K::InvalidToken);
    }
    let v: f64 = t.parse().map_err(|_| K::InvalidToken)?;
    if v.is_infinite() {
        return Err(K::OutOfRange);
    }
    Ok(v)
}

/// Reverses the writer's escaping, rejecting every form it never produces.
fn unescape(t: &str) -> Result<String, K> {
    let b = t.as_bytes();
    if b.first() == Some(&b'~') {
        return Err(K::InvalidToken);
    }
    // Most strings have nothing to unescape or reject.
    let Some(first) = find_any(b, [b'\\', b'\r', b'\n', b'\n']) else {
        return Ok(t.to_owned());
    };
    let mut out = String::with_capacity(t.len());
    out.push_str(&t[..first]);
    let (mut start, mut i) = (first, first);
    while i < b.len() {
        match b[i] {
            b'\r' | b'\n' => return Err(K::InvalidToken),
            b'\\' => {
                let c = match b.get(i + 1) {
                    Some(b'\\') => '\\',
                    Some(b'p') => '|',
                    Some(b'n') => '\n',
                    Some(b'r') => '\r',
                    Some(b'~') if i == 0 => '~',
                    _ => return Err(K::InvalidEscape),
                };
                // `i` and `start` sit at ASCII bytes: char boundaries.
                out.push_str(&t[start..i]);
                out.push(c);
                i += 2;
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&t[start..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_grammar() {
        assert_eq!(parse_decimal("0"), Ok(0));
        assert_eq!(parse_decimal("-128"), Ok(-128));
        assert_eq!(parse_decimal("18446744073709551615"), Ok(u64::MAX.into()));
        for bad in [
            "", "-", "-0", "+1", "01", "00", "1.0", "1e3", " 1", "1 ", "--1", "0x1", "٣",
        ] {
            assert_eq!(parse_decimal(bad), Err(K::InvalidToken), "{bad:?}");
        }
        assert_eq!(parse_decimal(&"9".repeat(60)), Err(K::OutOfRange));
    }

    /// The short path of integer tokens reads exactly what the grammar
    /// (`parse_decimal`) accepts, with the same value and error, and leaves
    /// the reader at the same place.
    #[test]
    fn integer_tokens_agree_with_the_grammar() {
        fn check<T>(read: impl Fn(&mut TextReader<'_>) -> R<T>)
        where
            T: TryFrom<i128> + PartialEq + std::fmt::Debug,
        {
            let tokens = [
                "0",
                "7",
                "-7",
                "00",
                "01",
                "-0",
                "-",
                "",
                "+1",
                "1a",
                "a1",
                "127",
                "128",
                "-128",
                "-129",
                "255",
                "256",
                "65535",
                "65536",
                "-32768",
                "-32769",
                "4294967295",
                "4294967296",
                "-2147483648",
                "-2147483649",
                "9223372036854775807",
                "9223372036854775808",
                "-9223372036854775808",
                "-9223372036854775809",
                "1000000000000000000",
                "9999999999999999999",
                "18446744073709551615",
                "18446744073709551616",
                "99999999999999999999999",
                "~",
                "1~",
                "١",
            ];
            let limits = Limits::default();
            for token in tokens {
                let frame = format!("aa|{token}|9");
                let mut r = TextReader::new(&frame, &limits).expect("header");
                let at = Position::Token { index: 1, byte: 3 };
                let expected = parse_decimal(token)
                    .map_err(|k| DecodeError::new(k, at))
                    .and_then(|n| T::try_from(n).map_err(|_| DecodeError::new(K::OutOfRange, at)));
                let ok = expected.is_ok();
                assert_eq!(read(&mut r), expected, "{token:?}");
                if ok {
                    assert_eq!(
                        r.position(),
                        Position::Token {
                            index: 2,
                            byte: frame.len() - 1
                        }
                    );
                }
            }
        }
        check(|r| r.u8());
        check(|r| r.u16());
        check(|r| r.u32());
        check(|r| r.u64());
        check(|r| r.i8());
        check(|r| r.i16());
        check(|r| r.i32());
        check(|r| r.i64());
    }

    /// The short path of float tokens reads exactly what the grammar
    /// (`parse_float`) accepts, with the same value (bits) and error, and
    /// leaves the reader at the same place.
    #[test]
    fn float_tokens_agree_with_the_grammar() {
        let tokens = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "-1",
            "1.5",
            "-1.5",
            "123.375",
            "00",
            "01",
            "0.",
            ".5",
            "1.",
            "-",
            "",
            "+1",
            "1e3",
            "1.5e-3",
            "1.5f",
            "NaN",
            "Infinity",
            "-Infinity",
            "~",
            "0.1",
            "0.30000000000000004",
            "123456789012345",
            "1234567890123456",
            "12345678.9012345",
            "12345678.90123456",
            "99999999999999999999",
            "1.0000000000000002",
            "١",
            "3.4028235e38",
            "1e400",
        ];
        let limits = Limits::default();
        for token in tokens {
            let frame = format!("aa|{token}|9");
            let at = Position::Token { index: 1, byte: 3 };
            let expected = parse_float(token).map_err(|k| DecodeError::new(k, at));
            let mut r = TextReader::new(&frame, &limits).expect("header");
            let got = r.f64();
            assert_eq!(
                got.as_ref().map(|v| v.to_bits()),
                expected.as_ref().map(|v| v.to_bits()),
                "{token:?}"
            );
            if expected.is_ok() {
                let end = Position::Token {
                    index: 2,
                    byte: frame.len() - 1,
                };
                assert_eq!(r.position(), end, "{token:?}");
                let mut r = TextReader::new(&frame, &limits).expect("header");
                let narrow = r.f32().map(f32::to_bits);
                #[allow(clippy::cast_possible_truncation)]
                let want = expected.map(|v| (v as f32).to_bits());
                assert_eq!(narrow, want, "{token:?}");
                assert_eq!(r.position(), end, "{token:?}");
            }
        }
    }

    #[test]
    fn float_grammar() {
        for (t, v) in [
            ("1.5", 1.5),
            ("15e-1", 1.5),
            ("1.50", 1.5),
            ("0", 0.0),
            ("1E+2", 100.0),
        ] {
            assert_eq!(parse_float(t), Ok(v), "{t}");
        }
        assert!(parse_float("-0").is_ok_and(|v| v == 0.0 && v.is_sign_negative()));
        assert!(parse_float("NaN").is_ok_and(f64::is_nan));
        for bad in [
            "",
            "+1",
            ".5",
            "1.",
            "01",
            "-",
            "inf",
            "nan",
            "infinity",
            "1e",
            "1e+",
            "0x10",
            "1_0",
            " 1",
            "-NaN",
            "+Infinity",
            "1.5f",
        ] {
            assert_eq!(parse_float(bad), Err(K::InvalidToken), "{bad:?}");
        }
        assert_eq!(parse_float("1e400"), Err(K::OutOfRange));
        assert_eq!(parse_float("1e-400"), Ok(0.0));
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"\~a~\p\\\n\r").as_deref(), Ok("~a~|\\\n\r"));
        for (bad, kind) in [
            (r"a\~", K::InvalidEscape),
            (r"\", K::InvalidEscape),
            (r"a\t", K::InvalidEscape),
            (r"a\", K::InvalidEscape),
            ("~a", K::InvalidToken),
            ("a\nb", K::InvalidToken),
            ("a\rb", K::InvalidToken),
        ] {
            assert_eq!(unescape(bad), Err(kind), "{bad:?}");
        }
    }
}
