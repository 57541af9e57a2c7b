//! `tagwire decode` and `tagwire encode` through the built binary: what someone
//! on call pastes from the browser's DevTools, and how values become frames.

#![allow(clippy::unwrap_used)]

use predicates::str::contains;

mod support;
use support::tagwire;

#[test]
fn decodes_a_text_frame_given_as_an_argument() {
    tagwire()
        .args(["decode", "schemas/ui.schema", "ab|main|PGI-"])
        .assert()
        .success()
        .stdout(
            "{\"header\":\"ab\",\"message\":\"UpdateUi\",\"version\":1,\"direction\":\"server\",\"value\":{\"id\":\"main\",\"patch\":\"PGI-\"}}\n",
        );
}

#[test]
fn decodes_every_line_of_stdin_and_reports_bad_frames_with_positions() {
    tagwire()
        .args(["decode", "schemas/ui.schema"])
        .write_stdin("ab|main|PGI-\naf|hi|9|0|~\nzz|x\nab|main\n")
        .assert()
        .code(1)
        .stdout(contains("\"message\":\"UpdateUi\""))
        .stderr(contains(
            "error: line 2: unknown enum value 9 at token 2 (byte 6)",
        ))
        .stderr(contains("error: line 3: unknown header"))
        .stderr(contains("error: line 4: truncated"));
}

#[test]
fn decodes_binary_frames_in_hex_and_base64() {
    tagwire()
        .args([
            "decode",
            "schemas/ui.schema",
            "--binary-hex",
            "61 62 04 6d 61 69 6e 03 3c 62 3e",
        ])
        .assert()
        .success()
        .stdout(contains("\"patch\":\"PGI-\""));
    // The same frame as DevTools shows binary messages (standard base64, padded).
    tagwire()
        .args([
            "decode",
            "schemas/ui.schema",
            "--binary-base64",
            "YWIEbWFpbgM8Yj4=",
        ])
        .assert()
        .success()
        .stdout(contains("\"id\":\"main\""));
    tagwire()
        .args([
            "decode",
            "schemas/ui.schema",
            "--binary-hex",
            "61 62 04 6d 61",
        ])
        .assert()
        .code(1)
        .stderr(contains("truncated"));
}

#[test]
fn encodes_values_to_text_and_binary_frames() {
    let values = "{\"message\":\"UpdateUi\",\"value\":{\"id\":\"main\",\"patch\":\"PGI-\"}}\n\
                  {\"message\":\"RenderUi\",\"version\":1,\"value\":{\"id\":\"a|b\",\"tree\":\"\"}}\n";
    tagwire()
        .args(["encode", "schemas/ui.schema", "--text"])
        .write_stdin(values)
        .assert()
        .success()
        .stdout("ab|main|PGI-\naa|a\\pb|\n");
    tagwire()
        .args(["encode", "schemas/ui.schema", "--binary-hex"])
        .write_stdin(values)
        .assert()
        .success()
        .stdout(contains("6162046d61696e033c623e\n"));
}

#[test]
fn bad_values_name_the_line_and_the_path() {
    tagwire()
        .args(["encode", "schemas/ui.schema", "--text"])
        .write_stdin("{\"message\":\"UpdateUi\",\"value\":{\"id\":\"main\",\"patch\":\"PGI-\"}}\n{\"message\":\"UpdateUi\",\"value\":{\"id\":7,\"patch\":\"\"}}\n")
        .assert()
        .code(1)
        .stdout("ab|main|PGI-\n")
        .stderr(contains("line 2"))
        .stderr(contains("value.id"));
}

#[test]
fn encode_needs_an_output_format() {
    tagwire()
        .args(["encode", "schemas/ui.schema"])
        .assert()
        .code(2);
}

#[test]
fn encode_then_decode_round_trips_through_the_cli() {
    let frames = tagwire()
        .args(["encode", "schemas/ui.schema", "--text"])
        .write_stdin(
            "{\"message\":\"ShowLoading\",\"value\":{\"until_ms\":\"18446744073709551615\"}}\n",
        )
        .output()
        .unwrap();
    assert!(frames.status.success());
    tagwire()
        .args(["decode", "schemas/ui.schema"])
        .write_stdin(frames.stdout)
        .assert()
        .success()
        .stdout(contains("\"until_ms\":\"18446744073709551615\""));
}
