//! `tagwire decode` / `tagwire encode` through their library entry points
//! (`dynamic::cli_decode`, `dynamic::cli_encode`): output lines, error lines
//! and exit codes.
#![allow(clippy::unwrap_used)]

use tagwire::Limits;
use tagwire_compiler::dynamic::{
    CliResult, EncodeFormat, FrameEncoding, FrameSource, cli_decode, cli_encode,
};
use tagwire_compiler::{FrontEnd, LockMode, Output};

fn front_end(path: &str) -> Output {
    FrontEnd::new()
        .schema(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(path),
        )
        .lock_mode(LockMode::Locked)
        .run()
}

fn ui() -> Output {
    front_end("schemas/ui.schema")
}

fn decode(output: &Output, encoding: FrameEncoding, source: FrameSource<'_>) -> CliResult {
    cli_decode(output, None, encoding, source, &Limits::default())
}

#[test]
fn decode_prints_one_json_line_per_frame() {
    let r = decode(
        &ui(),
        FrameEncoding::Text,
        FrameSource::Argument("ab|main|_w"),
    );
    assert_eq!(
        r.stdout,
        "{\"header\":\"ab\",\"message\":\"UpdateUi\",\"version\":1,\"direction\":\"server\",\"value\":{\"id\":\"main\",\"patch\":\"_w\"}}\n"
    );
    assert_eq!((r.stderr.as_str(), r.code), ("", 0));
}

#[test]
fn decode_reports_bad_lines_and_goes_on() {
    let input = b"ad|~\n\nzz|1\r\naf|x|7|0|~\naf|x|1|0\nad|\xFF\n";
    let r = decode(&ui(), FrameEncoding::Text, FrameSource::Lines(input));
    assert_eq!(
        r.stdout,
        "{\"header\":\"ad\",\"message\":\"ShowLoading\",\"version\":1,\"direction\":\"server\",\"value\":{}}\n"
    );
    assert_eq!(
        r.stderr,
        "error: line 3: unknown header at token 0 (byte 0)\n\
         error: line 4: unknown enum value 7 at token 2 (byte 5)\n\
         error: line 5: unknown enum value 1 at token 2 (byte 5)\n\
         error: line 6: invalid utf8 at token 1 (byte 3)\n"
    );
    assert_eq!(r.code, 1);
    // An argument's error has no line number.
    let r = decode(&ui(), FrameEncoding::Text, FrameSource::Argument("ad|~|~"));
    assert_eq!(r.stderr, "error: trailing data at token 2 (byte 5)\n");
    assert_eq!((r.stdout.as_str(), r.code), ("", 1));
}

#[test]
fn decode_binary_hex_and_base64() {
    let out = ui();
    let hex = decode(
        &out,
        FrameEncoding::BinaryHex,
        FrameSource::Lines(
            b"61 62 04 6D 61 69 6E 01 FF\n616401ffffffffffffffffff01\n6164 02\nxyz\n",
        ),
    );
    assert_eq!(
        hex.stdout,
        "{\"header\":\"ab\",\"message\":\"UpdateUi\",\"version\":1,\"direction\":\"server\",\"value\":{\"id\":\"main\",\"patch\":\"_w\"}}\n\
         {\"header\":\"ad\",\"message\":\"ShowLoading\",\"version\":1,\"direction\":\"server\",\"value\":{\"until_ms\":\"18446744073709551615\"}}\n"
    );
    assert_eq!(
        hex.stderr,
        "error: line 3: invalid bool at byte 2\nerror: line 4: not hex: unexpected 'x'\n"
    );
    assert_eq!(hex.code, 1);
    // "ab" + "main" + FF, as DevTools shows it (standard base64 with padding).
    let b64 = decode(
        &out,
        FrameEncoding::BinaryBase64,
        FrameSource::Argument("YWIEbWFpbgH/"),
    );
    assert_eq!(b64.code, 0, "{}", b64.stderr);
    assert!(b64.stdout.contains("\"patch\":\"_w\""));
    let b64 = decode(
        &out,
        FrameEncoding::BinaryBase64,
        FrameSource::Argument("YWIEbWFpbgH_"),
    );
    assert_eq!(b64.code, 0, "{}", b64.stderr);
}

#[test]
fn encode_prints_frames_and_names_bad_lines() {
    let input = br#"{"message":"UpdateUi","value":{"id":"main","patch":"_w"}}

{"message":"Chat","value":{"text":"","level":"info","shapes":[{"circle":{"center":{"x":1,"y":2},"radius":"big"}}]}}
{"message":"ShowLoading","value":{"until_ms":"18446744073709551615"}}
not json
"#;
    let r = cli_encode(&ui(), None, EncodeFormat::Text, input);
    assert_eq!(r.stdout, "ab|main|_w\nad|18446744073709551615\n");
    assert_eq!(
        r.stderr,
        "error: line 3: value.shapes[0].circle.radius: expected a number or one of \"-0\", \"NaN\", \"Infinity\", \"-Infinity\", found \"big\"\n\
         error: line 5: invalid JSON at column 1: expected a value\n"
    );
    assert_eq!(r.code, 1);
    let r = cli_encode(
        &ui(),
        None,
        EncodeFormat::BinaryHex,
        br#"{"message":"UpdateUi","value":{"id":"main","patch":"_w"}}"#,
    );
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        ("6162046d61696e01ff\n", "", 0)
    );
}

#[test]
fn encode_then_decode_is_the_identity_on_canonical_values() {
    let out = ui();
    let line = r#"{"message":"RenderUi","version":2,"value":{"id":"a|b","tree":"","theme":"","attrs":{"class":"~x","z":"1"}}}"#;
    for (format, encoding) in [
        (EncodeFormat::Text, FrameEncoding::Text),
        (EncodeFormat::BinaryHex, FrameEncoding::BinaryHex),
    ] {
        let frames = cli_encode(&out, None, format, line.as_bytes());
        assert_eq!(frames.code, 0, "{}", frames.stderr);
        let back = decode(&out, encoding, FrameSource::Lines(frames.stdout.as_bytes()));
        assert_eq!(
            back.stdout,
            "{\"header\":\"ac\",\"message\":\"RenderUi\",\"version\":2,\"direction\":\"server\",\"value\":{\"id\":\"a|b\",\"tree\":\"\",\"theme\":\"\",\"attrs\":{\"class\":\"~x\",\"z\":\"1\"}}}\n"
        );
    }
}

#[test]
fn packages_and_schema_errors() {
    // chat imports geometry: the package with messages is picked.
    let chat = front_end("schemas/chat/chat.schema");
    let r = cli_decode(
        &chat,
        None,
        FrameEncoding::Text,
        FrameSource::Argument("s1|r|2"),
        &Limits::default(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\"message\":\"Say\""));
    // Naming a package without messages: every frame is an unknown header.
    let r = cli_decode(
        &chat,
        Some("geometry"),
        FrameEncoding::Text,
        FrameSource::Argument("s1|r|2"),
        &Limits::default(),
    );
    assert_eq!(
        (r.stderr.as_str(), r.code),
        ("error: unknown header at token 0 (byte 0)\n", 1)
    );
    let r = cli_decode(
        &chat,
        Some("nope"),
        FrameEncoding::Text,
        FrameSource::Argument("s1"),
        &Limits::default(),
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: no package `nope` (packages: chat, geometry)\n"
    );
    // Two roots with messages: the package must be named.
    let both = FrontEnd::new()
        .schema(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/ui.schema"))
        .schema(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../schemas/article/article.schema"),
        )
        .lock_mode(LockMode::Locked)
        .run();
    let r = cli_encode(&both, None, EncodeFormat::Text, b"{}");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("pick one with --package"), "{}", r.stderr);
    let r = cli_encode(
        &both,
        Some("article"),
        EncodeFormat::Text,
        br#"{"message":"ShowLoading","value":{"component_id":"x"}}"#,
    );
    assert_eq!((r.stdout.as_str(), r.code), ("ac|x\n", 0));
    // A schema with errors prints its diagnostics.
    let broken = FrontEnd::new()
        .schema_text(
            "/nonexistent-tagwire-cli-decode/x.schema",
            "package x; message A { a: nope }",
        )
        .lock_mode(LockMode::Preview)
        .run();
    let r = cli_decode(
        &broken,
        None,
        FrameEncoding::Text,
        FrameSource::Argument("aa"),
        &Limits::default(),
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("error"), "{}", r.stderr);
}
