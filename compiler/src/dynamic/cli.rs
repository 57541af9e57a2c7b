//! `tagwire decode` and `tagwire encode` as functions from input to
//! (stdout, stderr, exit code), so the binary only parses arguments and
//! tests need no process.

use std::fmt::Write as _;

use tagwire::Limits;

use super::{Frame, decode_frame, encode_values_line, render_decoded};
use crate::Output;
use crate::ir::{Package, Schema};

/// How frames are written on the command line or stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameEncoding {
    /// Text frames as they are.
    #[default]
    Text,
    /// Binary frames in hex (`6162 01`, spaces allowed, either case).
    BinaryHex,
    /// Binary frames in base64 (standard or URL alphabet, padding optional),
    /// as browsers' developer tools show them.
    BinaryBase64,
}

/// Where frames come from.
#[derive(Debug, Clone, Copy)]
pub enum FrameSource<'a> {
    /// One frame, from the command line.
    Argument(&'a str),
    /// Frames one per line (blank lines are skipped; a trailing CR is dropped).
    Lines(&'a [u8]),
}

/// What `tagwire encode` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeFormat {
    /// Text frames.
    Text,
    /// Binary frames in lowercase hex, no spaces.
    BinaryHex,
}

/// A command's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CliResult {
    pub stdout: String,
    pub stderr: String,
    /// 0: every frame or value was fine; 1: a schema error or at least one
    /// bad frame or value (the others are still printed); 2: a usage error
    /// (no package could be picked).
    pub code: u8,
}

/// The package whose messages a frame or value belongs to: `name` when given,
/// else the only package that declares messages (the root schema's), else the
/// only package.
///
/// # Errors
///
/// A message saying which packages there are.
pub fn pick_package<'s>(schema: &'s Schema, name: Option<&str>) -> Result<&'s Package, String> {
    let names = || {
        schema
            .packages
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(name) = name {
        return schema
            .package(name)
            .ok_or_else(|| format!("no package `{name}` (packages: {})", names()));
    }
    let with_messages: Vec<&Package> = schema
        .packages
        .iter()
        .filter(|p| !p.messages.is_empty())
        .collect();
    match (with_messages.as_slice(), schema.packages.as_slice()) {
        ([one], _) => Ok(one),
        ([], [one]) => Ok(one),
        ([], []) => Err("the schema has no packages".into()),
        _ => Err(format!(
            "the schemas declare messages in several packages ({}); pick one with --package",
            with_messages
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn schema_or_fail<'o>(output: &'o Output, package: Option<&str>) -> Result<&'o Schema, CliResult> {
    let Some(schema) = output.schema.as_ref().filter(|_| !output.has_errors()) else {
        return Err(CliResult {
            stdout: String::new(),
            stderr: output.render_text(),
            code: 1,
        });
    };
    if let Err(e) = pick_package(schema, package) {
        return Err(CliResult {
            stdout: String::new(),
            stderr: format!("error: {e}\n"),
            code: 2,
        });
    }
    Ok(schema)
}

/// Numbered, non-blank lines without their line terminators.
fn lines(input: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    input
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Hex digits, whitespace between bytes allowed.
fn parse_hex(s: &[u8]) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = s
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if let Some(&bad) = digits.iter().find(|&&b| hex_value(b).is_none()) {
        return Err(format!("not hex: unexpected {:?}", char::from(bad)));
    }
    if digits.len() % 2 == 1 {
        return Err("not hex: an odd number of digits".into());
    }
    Ok(digits
        .chunks_exact(2)
        .map(|p| (hex_value(p[0]).unwrap_or(0) << 4) | hex_value(p[1]).unwrap_or(0))
        .collect())
}

/// Base64 in either alphabet, padding optional, whitespace ignored.
fn parse_base64(s: &[u8]) -> Result<Vec<u8>, String> {
    let mut chars: Vec<u8> = s
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    while chars.last() == Some(&b'=') {
        chars.pop();
    }
    let mut out = Vec::with_capacity(chars.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in &chars {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return Err(format!("not base64: unexpected {:?}", char::from(c))),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if chars.len() % 4 == 1 {
        return Err("not base64: impossible length".into());
    }
    Ok(out)
}

/// `tagwire decode SCHEMA [--binary-hex | --binary-base64] [FRAME]`: each
/// frame as one canonical JSON line on stdout; each bad frame as
/// `error: line 3: unknown enum value 7 at token 4 (byte 19)` on stderr
/// (without `line N: ` for a frame given as an argument), exit code 1, and
/// decoding goes on with the next line.
pub fn cli_decode(
    output: &Output,
    package: Option<&str>,
    encoding: FrameEncoding,
    source: FrameSource<'_>,
    limits: &Limits,
) -> CliResult {
    let schema = match schema_or_fail(output, package) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut result = CliResult::default();
    let one = |label: Option<usize>, raw: &[u8], result: &mut CliResult| {
        let decoded: Result<_, String> = match encoding {
            FrameEncoding::Text => decode_frame(schema, package, Frame::TextBytes(raw), limits)
                .map_err(|e| e.to_string()),
            FrameEncoding::BinaryHex | FrameEncoding::BinaryBase64 => {
                let bytes = if encoding == FrameEncoding::BinaryHex {
                    parse_hex(raw)
                } else {
                    parse_base64(raw)
                };
                bytes.and_then(|b| {
                    decode_frame(schema, package, Frame::Binary(&b), limits)
                        .map_err(|e| e.to_string())
                })
            }
        };
        match decoded {
            Ok(d) => {
                result.stdout.push_str(&render_decoded(&d));
                result.stdout.push('\n');
            }
            Err(e) => {
                result.code = 1;
                let _ = match label {
                    Some(n) => writeln!(result.stderr, "error: line {n}: {e}"),
                    None => writeln!(result.stderr, "error: {e}"),
                };
            }
        }
    };
    match source {
        FrameSource::Argument(frame) => one(None, frame.as_bytes(), &mut result),
        FrameSource::Lines(input) => {
            for (n, line) in lines(input) {
                one(Some(n), line, &mut result);
            }
        }
    }
    result
}

/// `tagwire encode SCHEMA --text | --binary-hex`: each line of a values file
/// (JSON lines, blank lines skipped) as one frame on stdout; each bad line as
/// `error: line 2: value.shapes[3].circle.radius: expected a number, found a
/// string` on stderr, exit code 1, and encoding goes on with the next line.
pub fn cli_encode(
    output: &Output,
    package: Option<&str>,
    format: EncodeFormat,
    input: &[u8],
) -> CliResult {
    let schema = match schema_or_fail(output, package) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut result = CliResult::default();
    for (n, line) in lines(input) {
        let encoded = std::str::from_utf8(line)
            .map_err(|_| "the line is not UTF-8".to_owned())
            .and_then(|line| encode_values_line(schema, package, line).map_err(|e| e.to_string()));
        match encoded {
            Ok((text, binary)) => {
                match format {
                    EncodeFormat::Text => result.stdout.push_str(&text),
                    EncodeFormat::BinaryHex => {
                        for b in binary {
                            let _ = write!(result.stdout, "{b:02x}");
                        }
                    }
                }
                result.stdout.push('\n');
            }
            Err(e) => {
                result.code = 1;
                let _ = writeln!(result.stderr, "error: line {n}: {e}");
            }
        }
    }
    result
}
