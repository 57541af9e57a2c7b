//! Every primitive through the __private writers and readers: SPEC.md's
//! example tables, hostile values, and strict rejections.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use tagwire::__private::{BinaryReader, BinaryWriter, Reader, TextReader, TextWriter, Writer};
use tagwire::{DecodeError, DecodeErrorKind as K, Header, Limits, Position};

const H: Header = Header::new(*b"aa");

/// Text tokens after the header, for one value written by `write`.
fn text(write: impl FnOnce(&mut TextWriter<'_>)) -> String {
    let mut s = String::new();
    write(&mut TextWriter::new(&mut s, H));
    s.strip_prefix("aa")
        .unwrap()
        .strip_prefix('|')
        .unwrap_or("")
        .to_owned()
}

/// Binary bytes after the header.
fn bin(write: impl FnOnce(&mut BinaryWriter<'_>)) -> Vec<u8> {
    let mut v = Vec::new();
    write(&mut BinaryWriter::new(&mut v, H));
    v[2..].to_vec()
}

/// Decodes `tokens` (without header) as exactly one value.
fn from_text<T>(
    tokens: &str,
    read: impl FnOnce(&mut TextReader<'_>) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let frame = format!("aa|{tokens}");
    let limits = Limits::default();
    let mut r = TextReader::new(&frame, &limits)?;
    let v = read(&mut r)?;
    r.finish()?;
    Ok(v)
}

fn from_bin<T>(
    bytes: &[u8],
    read: impl FnOnce(&mut BinaryReader<'_>) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let mut frame = b"aa".to_vec();
    frame.extend_from_slice(bytes);
    let limits = Limits::default();
    let mut r = BinaryReader::new(&frame, &limits)?;
    let v = read(&mut r)?;
    r.finish()?;
    Ok(v)
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unhex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// Checks one value against its SPEC token and bytes, and that both decode back.
macro_rules! spec {
    ($w:ident, $v:expr, $token:expr, $hex:expr) => {{
        let v = $v;
        assert_eq!(text(|w| w.$w(v)), $token, "text of {:?}", v);
        assert_eq!(hex(&bin(|w| w.$w(v))), $hex, "binary of {:?}", v);
    }};
}

#[test]
fn integers_match_spec_tables() {
    spec!(u8, 200, "200", "C8");
    spec!(i8, -1, "-1", "FF");
    spec!(i8, -128, "-128", "80");
    spec!(u16, 300, "300", "AC 02");
    spec!(u16, 65535, "65535", "FF FF 03");
    spec!(u32, 0, "0", "00");
    spec!(u32, 127, "127", "7F");
    spec!(u32, 128, "128", "80 01");
    spec!(u32, u32::MAX, "4294967295", "FF FF FF FF 0F");
    spec!(
        u64,
        u64::MAX,
        "18446744073709551615",
        "FF FF FF FF FF FF FF FF FF 01"
    );
    spec!(i16, -1, "-1", "01");
    spec!(i32, 1, "1", "02");
    spec!(i32, -150, "-150", "AB 02");
    spec!(i16, i16::MIN, "-32768", "FF FF 03");
    spec!(
        i64,
        i64::MIN,
        "-9223372036854775808",
        "FF FF FF FF FF FF FF FF FF 01"
    );
    spec!(
        i64,
        i64::MAX,
        "9223372036854775807",
        "FE FF FF FF FF FF FF FF FF 01"
    );
    spec!(bool, true, "1", "01");
    spec!(bool, false, "0", "00");
}

macro_rules! int_round_trip {
    ($name:ident, $t:ident) => {
        #[test]
        fn $name() {
            for v in [$t::MIN, $t::MAX, 0 as $t, 1 as $t, $t::MIN / 2, $t::MAX / 3] {
                assert_eq!(from_text(&text(|w| w.$t(v)), |r| r.$t()).unwrap(), v);
                assert_eq!(from_bin(&bin(|w| w.$t(v)), |r| r.$t()).unwrap(), v);
            }
        }
    };
}
int_round_trip!(u8_round_trip, u8);
int_round_trip!(u16_round_trip, u16);
int_round_trip!(u32_round_trip, u32);
int_round_trip!(u64_round_trip, u64);
int_round_trip!(i8_round_trip, i8);
int_round_trip!(i16_round_trip, i16);
int_round_trip!(i32_round_trip, i32);
int_round_trip!(i64_round_trip, i64);

#[test]
fn floats_match_spec_tables() {
    for (v, token) in [
        (1.5, "1.5"),
        (100.0, "100"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (123456789012345680000.0, "123456789012345680000"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (-0.0, "-0"),
        (0.0, "0"),
        (f64::NAN, "NaN"),
        (-f64::NAN, "NaN"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
    ] {
        assert_eq!(text(|w| w.f64(v)), token);
    }
    assert_eq!(text(|w| w.f32(0.1)), "0.10000000149011612");
    assert_eq!(text(|w| w.f32(1.5)), "1.5");
    assert_eq!(text(|w| w.f32(f32::MAX)), "3.4028234663852886e+38");
    spec!(f32, 1.5f32, "1.5", "00 00 C0 3F");
    spec!(f32, f32::NEG_INFINITY, "-Infinity", "00 00 80 FF");
    spec!(f64, 1.5, "1.5", "00 00 00 00 00 00 F8 3F");
    spec!(f64, -0.0, "-0", "00 00 00 00 00 00 00 80");
    spec!(f64, 5e-324, "5e-324", "01 00 00 00 00 00 00 00");
    spec!(f64, f64::NAN, "NaN", "00 00 00 00 00 00 F8 7F");
    spec!(f32, f32::NAN, "NaN", "00 00 C0 7F");
}

#[test]
fn nan_payloads_are_canonicalised_on_encode_and_kept_on_decode() {
    let odd64 = f64::from_bits(0xFFF0_0000_0000_0001);
    let odd32 = f32::from_bits(0xFF80_0001);
    assert_eq!(hex(&bin(|w| w.f64(odd64))), "00 00 00 00 00 00 F8 7F");
    assert_eq!(hex(&bin(|w| w.f32(odd32))), "00 00 C0 7F");
    let read = from_bin(&0xFFF0_0000_0000_0001u64.to_le_bytes(), |r| r.f64()).unwrap();
    assert_eq!(read.to_bits(), 0xFFF0_0000_0000_0001);
}

fn f64_bits_round_trip(v: f64) {
    let t = from_text(&text(|w| w.f64(v)), |r| r.f64()).unwrap();
    let b = from_bin(&bin(|w| w.f64(v)), |r| r.f64()).unwrap();
    if v.is_nan() {
        assert!(t.is_nan() && b.is_nan());
    } else {
        assert_eq!(t.to_bits(), v.to_bits(), "{v:e}");
        assert_eq!(b.to_bits(), v.to_bits(), "{v:e}");
    }
}

fn f32_bits_round_trip(v: f32) {
    let t = from_text(&text(|w| w.f32(v)), |r| r.f32()).unwrap();
    let b = from_bin(&bin(|w| w.f32(v)), |r| r.f32()).unwrap();
    if v.is_nan() {
        assert!(t.is_nan() && b.is_nan());
    } else {
        assert_eq!(t.to_bits(), v.to_bits(), "{v:e}");
        assert_eq!(b.to_bits(), v.to_bits(), "{v:e}");
    }
}

#[test]
fn float_edge_cases_round_trip_exactly() {
    for v in [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        1e21,
        1e-7,
        5e-324,
        -5e-324,
        2.2250738585072014e-308,
        2.225073858507201e-308,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        9007199254740993.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        f64_bits_round_trip(v);
    }
    for v in [
        0.0f32,
        -0.0,
        0.1,
        1.0e-45,
        -1.0e-45,
        1.1754942e-38,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        16777217.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        f32_bits_round_trip(v);
    }
}

#[test]
fn float_decoding_accepts_the_grammar_and_rounds_in_two_steps() {
    assert_eq!(from_text("15e-1", |r| r.f64()).unwrap(), 1.5);
    assert_eq!(from_text("1.50", |r| r.f64()).unwrap(), 1.5);
    assert_eq!(from_text("0.1", |r| r.f32()).unwrap(), 0.1f32);
    // Finite but over f32::MAX: out of range. Rounds down to MAX: fine.
    assert_eq!(
        from_text("3.5e38", |r| r.f32()).unwrap_err().kind,
        K::OutOfRange
    );
    assert_eq!(from_text("3.4028235e38", |r| r.f32()).unwrap(), f32::MAX);
    assert_eq!(from_text("1e-50", |r| r.f32()).unwrap(), 0.0);
    assert!(from_text("-1e-50", |r| r.f32()).unwrap().is_sign_negative());
    assert_eq!(from_text("Infinity", |r| r.f32()).unwrap(), f32::INFINITY);
    for bad in [
        "+1", ".5", "1.", "01", "inf", "nan", "1e", "", "0x1p3", "1,5",
    ] {
        assert_eq!(
            from_text(bad, |r| r.f64()).unwrap_err().kind,
            K::InvalidToken,
            "{bad:?}"
        );
    }
}

const HOSTILE: &[&str] = &[
    "",
    "|",
    "||",
    "\\",
    "\\p",
    "\\\\|",
    "\r",
    "\n",
    "\r\n",
    "~",
    "~~",
    "~|~",
    "a~",
    "+",
    "\\~",
    "🎉",
    "𝄞 astral 𐍈",
    "é\u{0}\t\u{7F}\u{FEFF}",
    "\u{10FFFF}",
    "aa|x|y",
];

#[test]
fn hostile_strings_round_trip_and_stay_one_line() {
    for &s in HOSTILE {
        let t = text(|w| w.str(s));
        assert!(!t.contains(['|', '\r', '\n']), "{s:?} -> {t:?}");
        assert!(!t.starts_with('~'), "{s:?} -> {t:?}");
        assert_eq!(from_text(&t, |r| r.string()).unwrap(), s);
        assert_eq!(from_bin(&bin(|w| w.str(s)), |r| r.string()).unwrap(), s);
        // And inside an optional, where `~` means absent.
        let t = text(|w| w.optional(&Some(s), |w, v| w.str(v)));
        assert_eq!(
            from_text(&t, |r| r.optional(|r| r.string()))
                .unwrap()
                .as_deref(),
            Some(s)
        );
    }
}

#[test]
fn strings_match_spec_tables() {
    for (s, token) in [
        ("hello", "hello"),
        ("", ""),
        ("a|b", r"a\pb"),
        (r"C:\dir", r"C:\\dir"),
        ("line1\nline2", r"line1\nline2"),
        ("\r\n", r"\r\n"),
        ("~home", r"\~home"),
        ("a~b", "a~b"),
        ("~", r"\~"),
        ("🎉 ok", "🎉 ok"),
    ] {
        assert_eq!(text(|w| w.str(s)), token);
    }
    assert_eq!(hex(&bin(|w| w.str(""))), "00");
    assert_eq!(hex(&bin(|w| w.str("hé"))), "03 68 C3 A9");
    assert_eq!(hex(&bin(|w| w.str("a|b"))), "03 61 7C 62");
    assert_eq!(hex(&bin(|w| w.str("🎉"))), "04 F0 9F 8E 89");
}

#[test]
fn string_rejections() {
    for (token, kind) in [
        (r"a\x", K::InvalidEscape),
        (r"a\", K::InvalidEscape),
        (r"\", K::InvalidEscape),
        (r"a\~", K::InvalidEscape),
        (r"\P", K::InvalidEscape),
        (r"\u0041", K::InvalidEscape),
        ("~a", K::InvalidToken),
        ("~", K::InvalidToken),
        ("a\rb", K::InvalidToken),
        ("a\nb", K::InvalidToken),
    ] {
        let e = from_text(token, |r| r.string()).unwrap_err();
        assert_eq!(
            (e.kind, e.position),
            (kind, Position::Token { index: 1, byte: 3 }),
            "{token:?}"
        );
    }
    for bad in [
        &[0x01, 0xFF][..],
        &[0x02, 0xC0, 0x80],
        &[0x03, 0xED, 0xA0, 0x80],
        &[0x01, 0x80],
    ] {
        let e = from_bin(bad, |r| r.string()).unwrap_err();
        assert_eq!(
            (e.kind, e.position),
            (K::InvalidUtf8, Position::Byte(2)),
            "{bad:?}"
        );
    }
}

#[test]
fn bytes_match_spec_and_reject_non_canonical_base64() {
    for (b, token) in [
        (&[][..], ""),
        (&[0xFF], "_w"),
        (&[0xDE, 0xAD, 0xBE, 0xEF], "3q2-7w"),
        (&[0, 1, 2], "AAEC"),
        (&[0xFB, 0xFF], "-_8"),
    ] {
        assert_eq!(text(|w| w.bytes(b)), token);
        assert_eq!(from_text(token, |r| r.bytes()).unwrap(), b);
    }
    assert_eq!(
        hex(&bin(|w| w.bytes(&[0xDE, 0xAD, 0xBE, 0xEF]))),
        "04 DE AD BE EF"
    );
    for bad in [
        "_w==", "_w=", "_x", "3q2+7w", "3q2/7w", "A", "AAAAA", "AA AA", "~",
    ] {
        assert_eq!(
            from_text(bad, |r| r.bytes()).unwrap_err().kind,
            K::InvalidBase64,
            "{bad:?}"
        );
    }
    // Empty bytes vs absent are distinct in an optional.
    assert_eq!(text(|w| w.optional(&Some(&[][..]), |w, v| w.bytes(v))), "");
    assert_eq!(
        from_text("", |r| r.optional(|r| r.bytes())).unwrap(),
        Some(vec![])
    );
    assert_eq!(from_text("~", |r| r.optional(|r| r.bytes())).unwrap(), None);
}

#[test]
fn integer_text_rejections() {
    for (token, kind) in [
        ("", K::InvalidToken),
        ("+1", K::InvalidToken),
        ("01", K::InvalidToken),
        ("00", K::InvalidToken),
        ("-0", K::InvalidToken),
        ("1.0", K::InvalidToken),
        ("1e2", K::InvalidToken),
        (" 1", K::InvalidToken),
        ("٣", K::InvalidToken),
        ("-1", K::OutOfRange),
        ("256", K::OutOfRange),
        (
            "99999999999999999999999999999999999999999999",
            K::OutOfRange,
        ),
    ] {
        assert_eq!(
            from_text(token, |r| r.u8()).unwrap_err().kind,
            kind,
            "{token:?}"
        );
    }
    assert_eq!(
        from_text("-129", |r| r.i8()).unwrap_err().kind,
        K::OutOfRange
    );
    assert_eq!(
        from_text("18446744073709551616", |r| r.u64())
            .unwrap_err()
            .kind,
        K::OutOfRange
    );
    assert_eq!(
        from_text("-9223372036854775809", |r| r.i64())
            .unwrap_err()
            .kind,
        K::OutOfRange
    );
    for bad in ["2", "true", "", "01", "-1"] {
        assert_eq!(
            from_text(bad, |r| r.bool()).unwrap_err().kind,
            K::InvalidBool,
            "{bad:?}"
        );
    }
}

#[test]
fn varint_rejections() {
    let cases: &[(&str, K)] = &[
        ("81 00", K::InvalidVarint),       // overlong 1
        ("80 00", K::InvalidVarint),       // overlong 0
        ("FF FF FF FF 7F", K::OutOfRange), // 5 bytes, > u32::MAX
        ("FF FF FF FF FF 01", K::InvalidVarint),
        ("80", K::Truncated),
    ];
    for (h, kind) in cases {
        assert_eq!(
            from_bin(&unhex(h), |r| r.u32()).unwrap_err().kind,
            *kind,
            "{h}"
        );
    }
    assert_eq!(
        from_bin(&unhex("80 80 04"), |r| r.u16()).unwrap_err().kind,
        K::OutOfRange
    );
    assert_eq!(
        from_bin(&unhex("80 80 80 01"), |r| r.u16())
            .unwrap_err()
            .kind,
        K::InvalidVarint
    );
    assert_eq!(
        from_bin(&unhex("FF FF FF FF FF FF FF FF FF 02"), |r| r.u64())
            .unwrap_err()
            .kind,
        K::OutOfRange
    );
    assert_eq!(
        from_bin(&unhex("FF FF FF FF FF FF FF FF FF 81 00"), |r| r.u64())
            .unwrap_err()
            .kind,
        K::InvalidVarint
    );
    assert_eq!(
        from_bin(&unhex("FF FF 07"), |r| r.i16()).unwrap_err().kind,
        K::OutOfRange
    );
    assert_eq!(
        from_bin(&unhex("02"), |r| r.bool()).unwrap_err().kind,
        K::InvalidBool
    );
    assert_eq!(
        from_bin(&unhex("02 05"), |r| r.optional(|r| r.u8()))
            .unwrap_err()
            .kind,
        K::InvalidBool
    );
    assert_eq!(
        from_bin(&unhex("00 00 C0"), |r| r.f32()).unwrap_err().kind,
        K::Truncated
    );
}

#[test]
fn composites_match_spec_tables() {
    let list = vec![1u16, 300];
    assert_eq!(text(|w| w.list(&list, |w, v| w.u16(*v))), "2|1|300");
    assert_eq!(
        hex(&bin(|w| w.list(&list, |w, v| w.u16(*v)))),
        "02 01 AC 02"
    );
    assert_eq!(text(|w| w.list(&Vec::<u16>::new(), |w, v| w.u16(*v))), "0");
    let smap: BTreeMap<String, u8> = [("b".into(), 2), ("a".into(), 1)].into();
    assert_eq!(
        text(|w| w.map(&smap, |w, k| w.str(k), |w, v| w.u8(*v))),
        "2|a|1|b|2"
    );
    assert_eq!(
        hex(&bin(|w| w.map(&smap, |w, k| w.str(k), |w, v| w.u8(*v)))),
        "02 01 61 01 01 62 02"
    );
    let imap: BTreeMap<i32, bool> = [(10, true), (-5, false)].into();
    assert_eq!(
        text(|w| w.map(&imap, |w, k| w.i32(*k), |w, v| w.bool(*v))),
        "2|-5|0|10|1"
    );
    assert_eq!(
        hex(&bin(|w| w.map(&imap, |w, k| w.i32(*k), |w, v| w.bool(*v)))),
        "02 09 00 14 01"
    );
    assert_eq!(text(|w| w.optional(&None::<u32>, |w, v| w.u32(*v))), "~");
    assert_eq!(text(|w| w.optional(&Some(5u32), |w, v| w.u32(*v))), "5");
    assert_eq!(
        hex(&bin(|w| w.optional(&None::<u32>, |w, v| w.u32(*v)))),
        "00"
    );
    assert_eq!(
        hex(&bin(|w| w.optional(&Some(5u32), |w, v| w.u32(*v)))),
        "01 05"
    );
    let strs = vec![Some("a".to_owned()), None];
    let write_t = |w: &mut TextWriter<'_>| w.list(&strs, |w, v| w.optional(v, |w, s| w.str(s)));
    assert_eq!(text(write_t), "2|a|~");
    let write_b = |w: &mut BinaryWriter<'_>| w.list(&strs, |w, v| w.optional(v, |w, s| w.str(s)));
    assert_eq!(hex(&bin(write_b)), "02 01 01 61 00");
    // Strings sort bytewise: "B" < "a" < "é", "a" < "ab".
    let m: BTreeMap<String, u8> = [
        ("é".into(), 0),
        ("a".into(), 0),
        ("B".into(), 0),
        ("ab".into(), 0),
    ]
    .into();
    assert_eq!(
        text(|w| w.map(&m, |w, k| w.str(k), |w, v| w.u8(*v))),
        "4|B|0|a|0|ab|0|é|0"
    );
    let back = from_text("4|B|0|a|0|ab|0|é|0", |r| r.map(|r| r.string(), |r| r.u8())).unwrap();
    assert_eq!(back, m);
    assert_eq!(
        from_text("2|ab|0|a|0", |r| r.map(|r| r.string(), |r| r.u8()))
            .unwrap_err()
            .kind,
        K::UnsortedMapKeys
    );
}

#[test]
fn lying_counts_never_allocate_much() {
    // u32::MAX-ish counts are over the limit; the maximum allowed count with a
    // 10-byte frame fails as truncated after reading the frame.
    let e = from_bin(&unhex("FF FF FF FF 0F"), |r| r.list(|r| r.u64())).unwrap_err();
    assert_eq!(e.kind, K::CollectionTooLong);
    let generous = Limits {
        max_collection_len: usize::MAX,
        ..Limits::default()
    };
    let frame = unhex("61 61 FF FF FF FF 0F 01 02 03");
    let mut r = BinaryReader::new(&frame, &generous).unwrap();
    assert_eq!(r.list(|r| r.u64()).unwrap_err().kind, K::Truncated);
    let mut r = BinaryReader::new(&frame, &generous).unwrap();
    assert_eq!(r.list(|r| r.bytes()).unwrap_err().kind, K::Truncated);
    let frame = "aa|1152921504606846976|1|2";
    let mut r = TextReader::new(frame, &generous).unwrap();
    assert_eq!(r.list(|r| r.u64()).unwrap_err().kind, K::Truncated);
    // Bytes/strings: length checked against the limit first, then the input.
    assert_eq!(
        from_bin(&unhex("FF FF FF FF 0F"), |r| r.bytes())
            .unwrap_err()
            .kind,
        K::StringTooLong
    );
    assert_eq!(
        from_bin(&unhex("10 00"), |r| r.bytes()).unwrap_err().kind,
        K::Truncated
    );
}

proptest! {
    #[test]
    fn any_string_round_trips(s in any::<String>()) {
        let t = text(|w| w.str(&s));
        prop_assert!(!t.contains(['|', '\r', '\n']));
        prop_assert_eq!(from_text(&t, |r| r.string()).unwrap(), s.clone());
        prop_assert_eq!(from_bin(&bin(|w| w.str(&s)), |r| r.string()).unwrap(), s);
    }

    #[test]
    fn escape_heavy_strings_round_trip(s in "[~|\\\\\r\nap+🎉]{0,12}") {
        let t = text(|w| w.str(&s));
        prop_assert_eq!(from_text(&t, |r| r.string()).unwrap(), s);
    }

    #[test]
    fn any_bytes_round_trip(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(from_text(&text(|w| w.bytes(&b)), |r| r.bytes()).unwrap(), b.clone());
        prop_assert_eq!(from_bin(&bin(|w| w.bytes(&b)), |r| r.bytes()).unwrap(), b);
    }

    #[test]
    fn any_f64_bits_round_trip(bits in any::<u64>()) {
        f64_bits_round_trip(f64::from_bits(bits));
    }

    #[test]
    fn any_f32_bits_round_trip(bits in any::<u32>()) {
        f32_bits_round_trip(f32::from_bits(bits));
    }

    #[test]
    fn any_i64_and_u64_round_trip(i in any::<i64>(), u in any::<u64>()) {
        prop_assert_eq!(from_text(&text(|w| w.i64(i)), |r| r.i64()).unwrap(), i);
        prop_assert_eq!(from_bin(&bin(|w| w.i64(i)), |r| r.i64()).unwrap(), i);
        prop_assert_eq!(from_text(&text(|w| w.u64(u)), |r| r.u64()).unwrap(), u);
        prop_assert_eq!(from_bin(&bin(|w| w.u64(u)), |r| r.u64()).unwrap(), u);
    }

    #[test]
    fn string_maps_round_trip(m in proptest::collection::btree_map(any::<String>(), any::<i16>(), 0..8)) {
        let t = text(|w| w.map(&m, |w, k| w.str(k), |w, v| w.i16(*v)));
        prop_assert_eq!(from_text(&t, |r| r.map(|r| r.string(), |r| r.i16())).unwrap(), m.clone());
        let b = bin(|w| w.map(&m, |w, k| w.str(k), |w, v| w.i16(*v)));
        prop_assert_eq!(from_bin(&b, |r| r.map(|r| r.string(), |r| r.i16())).unwrap(), m);
    }
}

#[test]
fn a_count_token_is_never_negative() {
    use tagwire::__private::TextReader;
    use tagwire::DecodeErrorKind;
    for count in ["-1", "-0", &format!("-{}", "9".repeat(50))] {
        let frame = format!("aa|{count}");
        let limits = tagwire::Limits::default();
        let mut reader = TextReader::new(&frame, &limits).expect("header is fine");
        let error = reader.list(|r| r.u8()).expect_err("negative count");
        assert_eq!(error.kind, DecodeErrorKind::InvalidToken, "{count}");
    }
}
