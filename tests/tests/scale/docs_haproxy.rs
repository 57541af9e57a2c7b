//! docs/SCALE.md's sample haproxy.cfg is what operators copy: it must stay a
//! configuration HAProxy accepts, with the settings the drain and a node's
//! death rely on.
//! Needs `scripts/services start` (it installs haproxy); fails without it.

use std::process::Command;

use tagwire_tests::services::service;

/// The first ```haproxy block of docs/SCALE.md.
fn sample() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/SCALE.md");
    let doc = std::fs::read_to_string(path).expect("read docs/SCALE.md");
    let start = doc
        .find("```haproxy\n")
        .expect("docs/SCALE.md has a ```haproxy block")
        + "```haproxy\n".len();
    let len = doc[start..].find("```").expect("the block ends");
    doc[start..start + len].to_owned()
}

#[test]
fn the_sample_configuration_is_valid_haproxy() {
    let _shared = crate::shared_blocking();
    let haproxy = service("TAGWIRE_HAPROXY");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("haproxy.cfg");
    std::fs::write(&config, sample()).expect("write the sample");
    let out = Command::new(&haproxy)
        .arg("-c")
        .arg("-f")
        .arg(&config)
        .output()
        .expect("run haproxy -c");
    assert!(
        out.status.success(),
        "haproxy -c refused docs/SCALE.md's sample:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_sample_keeps_the_settings_the_drain_relies_on() {
    let _shared = crate::shared_blocking();
    let sample = sample();
    let settings: Vec<&str> = sample
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    for wanted in [
        // A draining node's /health turns 503; 4 failed checks 5 s apart take
        // it out within the server's 20 s grace, before its first notice.
        "http-check send meth GET uri /health",
        "default-server check inter 5s fall 4 rise 2 maxconn 50000",
        // Above the 30 s ping interval, so only dead tunnels are reaped.
        "timeout tunnel 1h",
        // A dead node refuses; its clients' reconnects go to another node at
        // once instead of failing until the checks take it out (node_kill).
        "option redispatch",
        "retries 2",
    ] {
        assert!(
            settings.contains(&wanted),
            "docs/SCALE.md's sample lost `{wanted}`"
        );
    }
}
