//! The `.onnx` loader as an attacker meets it.
//!
//! - The regression corpus (`tests/fuzz/regressions/`, made by `make_regressions.py` there): each
//!   model through `run` within a time and memory bound, with its exit status and its one error
//!   line, or, where onnxruntime runs the model too, its output against onnxruntime's
//!   (`tests/fuzz/expected/`).
//! - A fuzz harness, bounded in time (`WGPU_LSTM_FUZZ_SECONDS`, 20 s by default): mutations of
//!   the valid models of `tests/onnx/` and of the corpus, aware of the protobuf structure (values,
//!   fields, nesting re-encoded with consistent lengths) and on raw bytes (flips, lying lengths,
//!   truncations), each listed and loaded in-process. A panic fails the test with the input
//!   saved; an abort or a memory blow-up kills it, and the input it died on is the file
//!   `fuzz-current.onnx` in the test's temporary folder. A crash becomes a regression: add the
//!   model to the corpus and a row to `REGRESSIONS`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What each corpus model gives through `run --device cpu`: `Ok` where onnxruntime runs it,
/// else the text of its one error line.
const REGRESSIONS: [(&str, Result<(), &str>); 17] = [
    ("identity_chain", Ok(())),
    ("domain_ai_onnx", Ok(())),
    ("producer_brace", Ok(())),
    ("sparse_w", Ok(())),
    ("concat_bomb", Err("more than 268435456 elements")),
    ("slice_empty_step_back", Err("W has shape [0]")),
    ("zero_element_huge", Err("W has shape [4611686018427387904, 0]")),
    (
        "split_wraps",
        Err("parts [9223372036854775807, 9223372036854775807, 10] of a dimension of 8"),
    ),
    (
        "split_num_outputs",
        Err("num_outputs 2305843009213693952 for a node of 2 outputs"),
    ),
    ("unsqueeze_axes", Err("rank 10001 (at most 64)")),
    ("transpose_rank", Err("rank 10000 (at most 64)")),
    ("name_injection", Err("LSTM node 'n\\nerror: forged\\u{1b}[31m'")),
    ("clip_int", Err("attribute 'clip' is INT, where LSTM takes FLOAT")),
    (
        "activations_string",
        Err("attribute 'activations' is STRING, where LSTM takes STRINGS"),
    ),
    ("hidden_size_twice", Err("attribute 'hidden_size' is given twice")),
    (
        "hidden_size_huge",
        Err("hidden_size 4611686018427387904 is larger than any R"),
    ),
    ("many_nodes_share_w", Err("l18, l19, … and 1980 more")),
];

/// Largest difference from onnxruntime's Y (its f32 against the float64 CPU reference).
const ORT_TOLERANCE: f32 = 1e-6;

/// Each corpus model may take this long and this much memory (virtual, through `ulimit -v`).
const TIME_BOUND: Duration = Duration::from_secs(10);
const MEMORY_BOUND_KB: u64 = 2 << 20;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/regressions")
}

#[test]
fn every_corpus_model_fails_cleanly_or_runs_within_its_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let x = common::tiny_input(dir.path());
    let mut files: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".onnx")
                .to_string()
        })
        .collect();
    files.sort();
    let mut listed: Vec<String> = REGRESSIONS.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "every corpus file has a row in REGRESSIONS");
    for (name, expected) in REGRESSIONS {
        let model = corpus().join(format!("{name}.onnx"));
        let out = dir.path().join(format!("out-{name}"));
        let o = bounded(common::cpu_run(&model, &x, &out), name);
        let stderr = String::from_utf8_lossy(&o.stderr);
        match expected {
            Ok(()) => {
                assert!(o.status.success(), "{name}: {stderr}");
                let expected = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fuzz/expected")
                    .join(format!("{name}.npy"));
                let got = wgpu_lstm::Tensor::read_npy(&out.join("y.npy")).unwrap();
                let want = wgpu_lstm::Tensor::read_npy(&expected).unwrap();
                let worst = got.max_abs_diff(&want);
                assert!(
                    worst.is_some_and(|w| w <= ORT_TOLERANCE),
                    "{name}: worst difference from onnxruntime {worst:?}"
                );
            }
            Err(needle) => {
                assert_eq!(o.status.code(), Some(1), "{name}: {stderr}");
                assert_eq!(stderr.lines().count(), 1, "{name}: one error line: {stderr:?}");
                assert!(
                    stderr.starts_with("error: ") && stderr.contains(needle),
                    "{name}: {stderr}"
                );
            }
        }
        // `info` describes every model, each node with what resolves and what does not.
        let mut info = common::bin();
        info.args(["info", "--weights"]).arg(&model);
        let o = bounded(info, name);
        assert!(
            o.status.success(),
            "info {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// Run `command` within [`TIME_BOUND`] and [`MEMORY_BOUND_KB`] of virtual memory. Its output
/// goes to files (a pipe left unread would stall a long `info`).
fn bounded(command: Command, name: &str) -> std::process::Output {
    let logs = tempfile::tempdir().unwrap();
    let (out, err) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let mut limited = Command::new("bash");
    limited
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_BOUND_KB}; exec \"$0\" \"$@\""))
        .arg(command.get_program())
        .args(command.get_args())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    for (key, value) in command.get_envs() {
        match value {
            Some(v) => limited.env(key, v),
            None => limited.env_remove(key),
        };
    }
    let start = Instant::now();
    let mut child = limited.spawn().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIME_BOUND {
            let _ = child.kill();
            panic!("{name}: still running after {TIME_BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::process::Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

/// A protobuf value, as the wire format has it (no schema: a length-delimited payload that
/// parses as a message is taken as one).
#[derive(Clone, Debug)]
enum Value {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(Vec<u8>),
    Message(Vec<(u64, Value)>),
    Fixed32([u8; 4]),
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// The fields of a message, or `None` where `bytes` are not one.
fn parse(bytes: &[u8], depth: usize) -> Option<Vec<(u64, Value)>> {
    let mut at = 0;
    let mut fields = Vec::new();
    while at < bytes.len() {
        let tag = read_varint(bytes, &mut at)?;
        let (number, wire) = (tag >> 3, tag & 7);
        if number == 0 {
            return None;
        }
        let value = match wire {
            0 => Value::Varint(read_varint(bytes, &mut at)?),
            1 => {
                let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
                at += 8;
                Value::Fixed64(b)
            }
            2 => {
                let len = read_varint(bytes, &mut at)? as usize;
                let payload = bytes.get(at..at.checked_add(len)?)?;
                at += len;
                match (depth < 8).then(|| parse(payload, depth + 1)).flatten() {
                    Some(m) if !m.is_empty() => Value::Message(m),
                    _ => Value::Bytes(payload.to_vec()),
                }
            }
            5 => {
                let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
                at += 4;
                Value::Fixed32(b)
            }
            _ => return None,
        };
        fields.push((number, value));
    }
    Some(fields)
}

fn write_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn encode(fields: &[(u64, Value)], out: &mut Vec<u8>) {
    for (number, value) in fields {
        let wire = match value {
            Value::Varint(_) => 0,
            Value::Fixed64(_) => 1,
            Value::Bytes(_) | Value::Message(_) => 2,
            Value::Fixed32(_) => 5,
        };
        write_varint((number << 3) | wire, out);
        match value {
            Value::Varint(v) => write_varint(*v, out),
            Value::Fixed64(b) => out.extend(b),
            Value::Fixed32(b) => out.extend(b),
            Value::Bytes(b) => {
                write_varint(b.len() as u64, out);
                out.extend(b);
            }
            Value::Message(m) => {
                let mut inner = Vec::new();
                encode(m, &mut inner);
                write_varint(inner.len() as u64, out);
                out.extend(inner);
            }
        }
    }
}

/// Values that break arithmetic: zero, one, signs, powers of two at the edges of 31, 32, 62 and
/// 63 bits, and the largest.
const INTERESTING: [u64; 12] = [
    0,
    1,
    2,
    u64::MAX,
    (-2i64) as u64,
    1 << 31,
    1 << 32,
    (1 << 31) - 1,
    1 << 40,
    1 << 62,
    (1 << 63) - 1,
    1 << 63,
];

/// Every message of the tree, by path of field indexes.
fn messages(fields: &[(u64, Value)], path: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    out.push(path.clone());
    for (i, (_, v)) in fields.iter().enumerate() {
        if let Value::Message(m) = v {
            path.push(i);
            messages(m, path, out);
            path.pop();
        }
    }
}

fn at_path<'a>(fields: &'a mut Vec<(u64, Value)>, path: &[usize]) -> &'a mut Vec<(u64, Value)> {
    match path.split_first() {
        None => fields,
        Some((&i, rest)) => match &mut fields[i].1 {
            Value::Message(m) => at_path(m, rest),
            _ => unreachable!("paths lead through messages"),
        },
    }
}

/// One mutation of `seed`: on its structure where it parses, else (or sometimes) on its bytes.
fn mutate(seed: &[u8], rng: &mut StdRng) -> Vec<u8> {
    if let (Some(mut fields), true) = (parse(seed, 0), rng.random_bool(0.8)) {
        for _ in 0..rng.random_range(1..4) {
            // The messages as the tree is now (a mutation moves and drops fields).
            let mut all = Vec::new();
            messages(&fields, &mut Vec::new(), &mut all);
            let path = &all[rng.random_range(0..all.len())];
            let message = at_path(&mut fields, path);
            if message.is_empty() {
                continue;
            }
            let i = rng.random_range(0..message.len());
            match rng.random_range(0..6) {
                // A value at an edge.
                0 => {
                    if let Value::Varint(v) = &mut message[i].1 {
                        *v = INTERESTING[rng.random_range(0..INTERESTING.len())];
                    }
                }
                // A field repeated, many times.
                1 => {
                    let copies = [1, 2, 100, 4000][rng.random_range(0..4)];
                    let field = message[i].clone();
                    for _ in 0..copies {
                        message.insert(i, field.clone());
                    }
                }
                // A field dropped.
                2 => {
                    message.remove(i);
                }
                // Bytes replaced: control characters, or an empty or long run.
                3 => {
                    if let Value::Bytes(b) = &mut message[i].1 {
                        *b = match rng.random_range(0..3) {
                            0 => b"n\nerror: x\x1b[31m".to_vec(),
                            1 => Vec::new(),
                            _ => vec![0xff; rng.random_range(1..64)],
                        };
                    }
                }
                // A field moved to another message of the tree, or renumbered.
                4 => {
                    message[i].0 = rng.random_range(1..24);
                }
                _ => {
                    let j = rng.random_range(0..message.len());
                    message.swap(i, j);
                }
            }
        }
        let mut out = Vec::new();
        encode(&fields, &mut out);
        return out;
    }
    let mut bytes = seed.to_vec();
    if bytes.is_empty() {
        return bytes;
    }
    match rng.random_range(0..3) {
        0 => {
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
        }
        1 => bytes.truncate(rng.random_range(0..bytes.len())),
        _ => {
            // A length that lies: ten 0xff bytes (a varint past 64 bits) somewhere.
            let i = rng.random_range(0..bytes.len());
            bytes.splice(i..i, [0xff; 10]);
        }
    }
    bytes
}

/// Every `.onnx` file under `dir`.
fn onnx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            onnx_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "onnx") {
            out.push(path);
        }
    }
}

#[test]
fn mutated_models_never_panic_abort_or_hang() {
    let var = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    let seconds = var("WGPU_LSTM_FUZZ_SECONDS").unwrap_or(20);
    // A new stretch of mutants each day, the same all day: WGPU_LSTM_FUZZ_SEED replays one.
    let base = var("WGPU_LSTM_FUZZ_SEED").unwrap_or_else(|| {
        let days = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 86_400);
        days << 32
    });
    let mut seeds = Vec::new();
    onnx_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/onnx"),
        &mut seeds,
    );
    onnx_files(&corpus(), &mut seeds);
    seeds.sort();
    let seeds: Vec<Vec<u8>> = seeds.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(seeds.len() >= 20, "{} seeds", seeds.len());
    let current = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-current.onnx");
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        let mut rng = StdRng::seed_from_u64(base + runs);
        let seed = &seeds[rng.random_range(0..seeds.len())];
        let bytes = mutate(seed, &mut rng);
        // Left behind if the process dies on it.
        std::fs::write(&current, &bytes).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            if let Ok(model) = wgpu_lstm::onnx::OnnxModel::from_bytes(&bytes, None) {
                let nodes = model.lstm_nodes();
                let names: Vec<String> = nodes.iter().map(|n| n.qualified_name()).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let _ = model.load(&[]);
                let _ = model.load(&names);
            }
        });
        if outcome.is_err() {
            let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-crash-{runs}.onnx"));
            std::fs::write(&kept, &bytes).unwrap();
            panic!(
                "mutant {runs} (WGPU_LSTM_FUZZ_SEED={base}) panicked; it is kept in {}",
                kept.display()
            );
        }
        runs += 1;
    }
    eprintln!("{runs} mutants in {seconds} s from WGPU_LSTM_FUZZ_SEED={base}");
    assert!(runs > 0);
}
