//! Tagwire's codecs side by side (docs/BENCHMARKS.md): Tagwire text and
//! binary, serde_json, postcard, bitcode, prost and a hand-written
//! split/join (the plain `|`-delimited convention, docs/SPEC.md §3.8), each
//! encoding and decoding the same seeded dataset of realtime-app traffic
//! (`tagwire_bench_codecs::dataset`), one frame per message, in one run.
//!
//! Every measurement is one pass over the whole mixed dataset; ns per
//! message is criterion's median for a pass divided by the number of
//! messages. Encoders write each frame into a buffer reused across messages
//! where the format's API allows it (the naive approach allocates its
//! `String`, as `format!` does); decoders produce owned values, except the
//! two borrowed contenders: Tagwire's `ServerMessageRef::decode_binary_ref`
//! and postcard through serde into the same `ServerMessageRef`, whose strings
//! and bytes point into the frame (no encode of their own: they read the
//! frames of their owned rows).
//!
//! After criterion, the benchmark reads its estimates back and writes a
//! Markdown section (tables, ratios, targets, machine) to
//! `<target>/criterion/codecs-report.md`, and prints it between marker lines.
//!
//! Run: `bench/codecs/run-rust` (or `--quick`), or
//! `cargo bench -p tagwire-bench-codecs --bench codecs`; environment
//! `TAGWIRE_BENCH_QUICK=1` shortens warm-up and measurement.

use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use prost::Message as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tagwire::Protocol;
use tagwire_bench::figures;
use tagwire_bench_codecs::traffic::{ServerMessage, ServerMessageRef};
use tagwire_bench_codecs::{LEN, decode_naive, encode_naive, generate, median_mean, proto};

/// Contenders in report order: (criterion id, name in the tables).
const CONTENDERS: &[(&str, &str)] = &[
    ("tagwire-text", "Tagwire text"),
    ("tagwire-binary", "Tagwire binary"),
    ("tagwire-binary-ref", "Tagwire binary (borrowed)"),
    ("serde_json", "serde_json"),
    ("postcard", "postcard"),
    ("postcard-ref", "postcard (borrowed)"),
    ("bitcode", "bitcode"),
    ("prost", "prost"),
    ("naive", "naive split/join"),
];

const ENCODE: &str = "codecs-encode";
const DECODE: &str = "codecs-decode";

struct Data {
    messages: Vec<ServerMessage>,
    protos: Vec<proto::Frame>,
    text: Vec<String>,
    binary: Vec<Vec<u8>>,
    json: Vec<String>,
    postcard: Vec<Vec<u8>>,
    bitcode: Vec<Vec<u8>>,
    prost: Vec<Vec<u8>>,
    naive: Vec<String>,
}

impl Data {
    fn new() -> Data {
        let messages = generate(LEN);
        let protos: Vec<proto::Frame> = messages
            .iter()
            .map(tagwire_bench_codecs::to_proto)
            .collect();
        let data = Data {
            text: messages.iter().map(Protocol::to_text).collect(),
            binary: messages.iter().map(Protocol::to_binary).collect(),
            json: messages
                .iter()
                .map(|m| serde_json::to_string(m).expect("json"))
                .collect(),
            postcard: messages
                .iter()
                .map(|m| postcard::to_stdvec(m).expect("postcard"))
                .collect(),
            bitcode: messages.iter().map(bitcode::encode).collect(),
            prost: protos.iter().map(prost::Message::encode_to_vec).collect(),
            naive: messages.iter().map(encode_naive).collect(),
            messages,
            protos,
        };
        data.check();
        data
    }

    /// Every contender reads back what it wrote: the comparison is only fair
    /// if all of them carry the same values.
    fn check(&self) {
        for (i, m) in self.messages.iter().enumerate() {
            let ok = ServerMessage::decode_text(&self.text[i]).as_ref() == Ok(m)
                && ServerMessage::decode_binary(&self.binary[i]).as_ref() == Ok(m)
                && ServerMessageRef::decode_binary_ref(&self.binary[i])
                    .ok()
                    .map(ServerMessageRef::into_owned)
                    .as_ref()
                    == Some(m)
                && postcard::from_bytes::<ServerMessageRef<'_>>(&self.postcard[i])
                    .ok()
                    .map(ServerMessageRef::into_owned)
                    .as_ref()
                    == Some(m)
                && serde_json::from_str::<ServerMessage>(&self.json[i])
                    .ok()
                    .as_ref()
                    == Some(m)
                && postcard::from_bytes::<ServerMessage>(&self.postcard[i])
                    .ok()
                    .as_ref()
                    == Some(m)
                && bitcode::decode::<ServerMessage>(&self.bitcode[i])
                    .ok()
                    .as_ref()
                    == Some(m)
                && proto::Frame::decode(self.prost[i].as_slice()).ok().as_ref()
                    == Some(&self.protos[i])
                && decode_naive(&self.naive[i]).as_ref() == Some(m);
            assert!(ok, "message {i} does not round-trip in every format: {m:?}");
        }
    }

    fn sizes(&self, id: &str) -> Vec<usize> {
        match id {
            "tagwire-text" => self.text.iter().map(String::len).collect(),
            "tagwire-binary" | "tagwire-binary-ref" => self.binary.iter().map(Vec::len).collect(),
            "serde_json" => self.json.iter().map(String::len).collect(),
            "postcard" | "postcard-ref" => self.postcard.iter().map(Vec::len).collect(),
            "bitcode" => self.bitcode.iter().map(Vec::len).collect(),
            "prost" => self.prost.iter().map(Vec::len).collect(),
            "naive" => self.naive.iter().map(String::len).collect(),
            _ => unreachable!("unknown contender {id}"),
        }
    }
}

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(LEN as u64));
    g
}

fn encode(c: &mut Criterion, d: &Data) {
    let mut g = group(c, ENCODE);
    let mut text = String::with_capacity(64 * 1024);
    let mut bytes: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut scratch = vec![0u8; 64 * 1024];
    let mut bitcode_buffer = bitcode::Buffer::new();
    let msgs = &d.messages;
    g.bench_function("tagwire-text", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in msgs {
                text.clear();
                m.encode_text(&mut text);
                n += black_box(text.as_str()).len();
            }
            n
        });
    });
    g.bench_function("tagwire-binary", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in msgs {
                bytes.clear();
                m.encode_binary(&mut bytes);
                n += black_box(bytes.as_slice()).len();
            }
            n
        });
    });
    g.bench_function("serde_json", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in msgs {
                bytes.clear();
                serde_json::to_writer(&mut bytes, m).expect("json");
                n += black_box(bytes.as_slice()).len();
            }
            n
        });
    });
    g.bench_function("postcard", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in msgs {
                let frame = postcard::to_slice(m, &mut scratch).expect("postcard");
                n += black_box(&*frame).len();
            }
            n
        });
    });
    g.bench_function("bitcode", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in msgs {
                n += black_box(bitcode_buffer.encode(m)).len();
            }
            n
        });
    });
    g.bench_function("prost", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &d.protos {
                bytes.clear();
                m.encode(&mut bytes).expect("prost");
                n += black_box(bytes.as_slice()).len();
            }
            n
        });
    });
    g.bench_function("naive", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in msgs {
                n += black_box(encode_naive(m)).len();
            }
            n
        });
    });
    g.finish();
}

fn decode(c: &mut Criterion, d: &Data) {
    let mut g = group(c, DECODE);
    g.bench_function("tagwire-text", |b| {
        b.iter(|| {
            for f in &d.text {
                black_box(ServerMessage::decode_text(f).expect("text"));
            }
        });
    });
    g.bench_function("tagwire-binary", |b| {
        b.iter(|| {
            for f in &d.binary {
                black_box(ServerMessage::decode_binary(f).expect("binary"));
            }
        });
    });
    g.bench_function("tagwire-binary-ref", |b| {
        b.iter(|| {
            for f in &d.binary {
                black_box(ServerMessageRef::decode_binary_ref(f).expect("binary"));
            }
        });
    });
    g.bench_function("serde_json", |b| {
        b.iter(|| {
            for f in &d.json {
                black_box(serde_json::from_str::<ServerMessage>(f).expect("json"));
            }
        });
    });
    g.bench_function("postcard", |b| {
        b.iter(|| {
            for f in &d.postcard {
                black_box(postcard::from_bytes::<ServerMessage>(f).expect("postcard"));
            }
        });
    });
    g.bench_function("postcard-ref", |b| {
        b.iter(|| {
            for f in &d.postcard {
                black_box(postcard::from_bytes::<ServerMessageRef<'_>>(f).expect("postcard"));
            }
        });
    });
    let mut bitcode_buffer = bitcode::Buffer::new();
    g.bench_function("bitcode", |b| {
        b.iter(|| {
            for f in &d.bitcode {
                black_box(bitcode_buffer.decode::<ServerMessage>(f).expect("bitcode"));
            }
        });
    });
    g.bench_function("prost", |b| {
        b.iter(|| {
            for f in &d.prost {
                black_box(proto::Frame::decode(f.as_slice()).expect("prost"));
            }
        });
    });
    g.bench_function("naive", |b| {
        b.iter(|| {
            for f in &d.naive {
                black_box(decode_naive(f).expect("naive"));
            }
        });
    });
    g.finish();
}

// ---- report ---------------------------------------------------------------

/// Criterion's median time for one pass, in ns, divided by the messages.
fn ns_per_message(dir: &Path, group: &str, id: &str) -> Option<f64> {
    let path = dir.join(group).join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(&path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let ns = v.get("median")?.get("point_estimate")?.as_f64()?;
    Some(ns / LEN as f64)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

fn fmt_ns(ns: Option<f64>) -> String {
    match ns {
        Some(ns) if ns >= 100.0 => format!("{ns:.0}"),
        Some(ns) => format!("{ns:.1}"),
        None => "–".into(),
    }
}

/// `other / base`, the factor by which `base` (Tagwire) is faster or smaller.
fn ratio(other: Option<f64>, base: Option<f64>) -> String {
    match (other, base) {
        (Some(o), Some(b)) if b > 0.0 => format!("{:.2}", o / b),
        _ => "–".into(),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

struct Row {
    name: &'static str,
    encode: Option<f64>,
    decode: Option<f64>,
    bytes: f64,
    median_bytes: f64,
}

fn report(dir: &Path, d: &Data, quick: bool, load_before: &str) -> String {
    let rows: Vec<Row> = CONTENDERS
        .iter()
        .map(|(id, name)| {
            let (median_bytes, bytes) = median_mean(d.sizes(id));
            Row {
                name,
                encode: ns_per_message(dir, ENCODE, id),
                decode: ns_per_message(dir, DECODE, id),
                bytes,
                median_bytes,
            }
        })
        .collect();
    let (text, binary) = (&rows[0], &rows[1]);
    let get = |name: &str| rows.iter().find(|r| r.name == name).expect("row");
    let (json, postcard, prost, naive) = (
        get("serde_json"),
        get("postcard"),
        get("prost"),
        get("naive split/join"),
    );
    let (binary_ref, postcard_ref) = (get("Tagwire binary (borrowed)"), get("postcard (borrowed)"));

    let mut out = String::new();
    let push = |out: &mut String, s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    push(&mut out, "### Rust".into());
    push(&mut out, String::new());
    push(
        &mut out,
        format!(
            "{LEN} messages of the seeded dataset, one frame each; criterion medians of a pass over all of them ({} mode), \
             divided by {LEN}. Ratios are the contender's figure over Tagwire's: above 1, Tagwire is that many times \
             faster or smaller.",
            if quick { "quick" } else { "full" }
        ),
    );
    push(&mut out, String::new());
    push(
        &mut out,
        "| contender | encode ns/msg | ÷ text | ÷ binary | decode ns/msg | ÷ text | ÷ binary | bytes/msg (mean) | median | ÷ text | ÷ binary |".into(),
    );
    push(
        &mut out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |".into(),
    );
    for r in &rows {
        push(
            &mut out,
            format!(
                "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.2} | {:.2} |",
                r.name,
                fmt_ns(r.encode),
                ratio(r.encode, text.encode),
                ratio(r.encode, binary.encode),
                fmt_ns(r.decode),
                ratio(r.decode, text.decode),
                ratio(r.decode, binary.decode),
                r.bytes,
                r.median_bytes,
                r.bytes / text.bytes,
                r.bytes / binary.bytes,
            ),
        );
    }
    push(&mut out, String::new());

    let x = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => a / b,
        _ => f64::NAN,
    };
    for (key, value) in [
        (
            "rust.binary.encode.vs.serde_json",
            x(json.encode, binary.encode),
        ),
        (
            "rust.binary.encode.vs.postcard",
            x(postcard.encode, binary.encode),
        ),
        (
            "rust.binary.encode.vs.prost",
            x(prost.encode, binary.encode),
        ),
        (
            "rust.binary.decode.vs.postcard",
            x(postcard.decode, binary.decode),
        ),
        (
            "rust.binary_ref.decode.vs.postcard",
            x(postcard.decode, binary_ref.decode),
        ),
        (
            "rust.text.encode.vs.serde_json",
            x(json.encode, text.encode),
        ),
        (
            "rust.text.decode.vs.serde_json",
            x(json.decode, text.decode),
        ),
    ] {
        figures::record(key, value);
    }
    // "On par" allows 10 %: the figures on this shared machine move that much between runs.
    let targets: Vec<(String, f64, bool)> = vec![
        (
            "binary encode ≥ 8× serde_json".into(),
            x(json.encode, binary.encode),
            x(json.encode, binary.encode) >= 8.0,
        ),
        (
            "binary encode ≥ 2× prost".into(),
            x(prost.encode, binary.encode),
            x(prost.encode, binary.encode) >= 2.0,
        ),
        (
            "binary encode on par with postcard (≥ 0.9×)".into(),
            x(postcard.encode, binary.encode),
            x(postcard.encode, binary.encode) >= 0.9,
        ),
        (
            "binary decode at least on par with postcard (≥ 0.9×)".into(),
            x(postcard.decode, binary.decode),
            x(postcard.decode, binary.decode) >= 0.9,
        ),
        (
            "binary decode ≥ 1.5× postcard: borrowed decode vs postcard's owned decode".into(),
            x(postcard.decode, binary_ref.decode),
            x(postcard.decode, binary_ref.decode) >= 1.5,
        ),
        (
            "text encode ≥ 2× serde_json".into(),
            x(json.encode, text.encode),
            x(json.encode, text.encode) >= 2.0,
        ),
        (
            "text encode ≥ 2× naive".into(),
            x(naive.encode, text.encode),
            x(naive.encode, text.encode) >= 2.0,
        ),
        (
            "text decode ≥ 2× serde_json".into(),
            x(json.decode, text.decode),
            x(json.decode, text.decode) >= 2.0,
        ),
        (
            "text decode ≥ 2× naive".into(),
            x(naive.decode, text.decode),
            x(naive.decode, text.decode) >= 2.0,
        ),
        (
            "text frames ≤ 0.6× JSON (mean bytes)".into(),
            text.bytes / json.bytes,
            text.bytes / json.bytes <= 0.6,
        ),
    ];
    push(&mut out, "| target | measured | |".into());
    push(&mut out, "| --- | ---: | --- |".into());
    for (name, value, ok) in &targets {
        push(
            &mut out,
            format!("| {name} | {value:.2}× | {} |", verdict(*ok)),
        );
    }
    push(&mut out, String::new());
    push(
        &mut out,
        format!(
            "Borrowed against borrowed (no target): postcard into the same views through serde's `&'a str` \
             takes {:.2}× Tagwire's borrowed decode time.",
            x(postcard_ref.decode, binary_ref.decode)
        ),
    );
    push(&mut out, String::new());
    push(
        &mut out,
        format!(
            "Machine: {} cores, {}; load average {} before the run, {} after.",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model(),
            load_before,
            loadavg()
        ),
    );
    out
}

/// Criterion writes under `<target>/criterion`; the bench binary is
/// `<target>/release/deps/codecs-…`, so that directory is found from it
/// (unless `CRITERION_HOME` says otherwise, as criterion itself honours).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(3)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("criterion")
}

fn main() {
    let quick = std::env::var("TAGWIRE_BENCH_QUICK").is_ok_and(|v| v == "1");
    let dir = criterion_dir();
    let load_before = loadavg();
    let data = Data::new();
    let (warm_up, measurement, samples) = if quick {
        (Duration::from_millis(200), Duration::from_millis(700), 10)
    } else {
        (Duration::from_secs(2), Duration::from_secs(5), 50)
    };
    let mut c = Criterion::default()
        .output_directory(&dir)
        .without_plots()
        .warm_up_time(warm_up)
        .measurement_time(measurement)
        .sample_size(samples)
        .configure_from_args();
    encode(&mut c, &data);
    decode(&mut c, &data);
    c.final_summary();
    // `cargo bench` also runs this binary for `--list` and in test mode, where
    // nothing was measured.
    let measured = ns_per_message(&dir, ENCODE, "tagwire-binary").is_some();
    if std::env::args().any(|a| a == "--list" || a == "--test") || !measured {
        return;
    }
    let section = report(&dir, &data, quick, &load_before);
    let path = dir.join("codecs-report.md");
    if let Err(e) = std::fs::write(&path, &section) {
        eprintln!("cannot write {}: {e}", path.display());
    }
    println!("---- codecs report ----\n{section}---- end of codecs report ----");
}
