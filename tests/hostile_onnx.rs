//! Hostile and unusual `.onnx` files through the command-line tool (from the audit of #29): names
//! that try to forge output, valid models the loader once refused, files whose first bytes
//! mimic another format. The models are written here with a minimal protobuf encoder, so each
//! case shows exactly the bytes it is made of.

mod common;

use std::path::Path;

use common::{bin, cpu_run, tiny_input};

/// Protobuf wire format: a varint.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field (strings, bytes, messages, packed arrays).
fn field(number: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(((number as u64) << 3) | 2, &mut out);
    varint(bytes.len() as u64, &mut out);
    out.extend_from_slice(bytes);
    out
}

/// A varint field.
fn int_field(number: u32, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint((number as u64) << 3, &mut out);
    varint(v, &mut out);
    out
}

/// A 32-bit field (`float`).
fn float_field(number: u32, v: f32) -> Vec<u8> {
    let mut out = Vec::new();
    varint(((number as u64) << 3) | 5, &mut out);
    out.extend(v.to_le_bytes());
    out
}

/// A FLOAT `TensorProto` named `name` (dims 1, data_type 2, float_data 4 packed, name 8).
fn tensor(name: &str, dims: &[u64], values: &[f32]) -> Vec<u8> {
    let mut t = Vec::new();
    for &d in dims {
        t.extend(int_field(1, d));
    }
    t.extend(int_field(2, 1));
    let packed: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    t.extend(field(4, &packed));
    t.extend(field(8, name.as_bytes()));
    t
}

/// An LSTM `NodeProto` (input 1, output 2, name 3, op_type 4, domain 7).
fn lstm_node(name: &str, domain: &str, inputs: &[&str]) -> Vec<u8> {
    lstm_node_with(name, domain, inputs, &[])
}

/// An `AttributeProto` (name 1, f 2, i 3, s 4, floats 7, strings 9, type 20) of `type_` with
/// the fields `fields` (already encoded).
fn attribute(name: &str, type_: u64, fields: Vec<u8>) -> Vec<u8> {
    let mut a = field(1, name.as_bytes());
    a.extend(fields);
    a.extend(int_field(20, type_));
    a
}

/// ONNX's AttributeProto types.
const FLOAT: u64 = 1;
const INT: u64 = 2;
const STRING: u64 = 3;

/// An LSTM node with attributes (NodeProto field 5).
fn lstm_node_with(name: &str, domain: &str, inputs: &[&str], attributes: &[Vec<u8>]) -> Vec<u8> {
    let mut n = Vec::new();
    for i in inputs {
        n.extend(field(1, i.as_bytes()));
    }
    n.extend(field(2, b"Y"));
    n.extend(field(3, name.as_bytes()));
    n.extend(field(4, b"LSTM"));
    if !domain.is_empty() {
        n.extend(field(7, domain.as_bytes()));
    }
    for a in attributes {
        n.extend(field(5, a));
    }
    n
}

/// A `GraphProto` (node 1, initializer 5, input 11, sparse_initializer 15) of one node, with
/// graph input X.
fn graph(node: Vec<u8>, initializers: &[Vec<u8>], sparse: &[Vec<u8>]) -> Vec<u8> {
    let mut graph = field(1, &node);
    for t in initializers {
        graph.extend(field(5, t));
    }
    for t in sparse {
        graph.extend(field(15, t));
    }
    graph.extend(field(11, &field(1, b"X")));
    graph
}

/// A `ModelProto` (ir_version 1, producer_name 2, graph 7, opset_import 8).
fn model(producer: &str, graph: Vec<u8>) -> Vec<u8> {
    let mut m = int_field(1, 8);
    m.extend(field(2, producer.as_bytes()));
    m.extend(field(7, &graph));
    m.extend(field(8, &int_field(2, 17)));
    m
}

/// W, R and B of a one-directional LSTM with I = 2, H = 1.
fn weights() -> Vec<Vec<u8>> {
    vec![
        tensor("W", &[1, 4, 2], &[0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]),
        tensor("R", &[1, 4, 1], &[0.2, -0.1, 0.05, 0.3]),
        tensor("B", &[1, 8], &[0.0; 8]),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn info(path: &Path) -> std::process::Output {
    bin().args(["info", "--weights"]).arg(path).output().unwrap()
}

/// A node name holding a newline, a forged `error:` line and a terminal escape: `info` and the
/// error of `run` print it escaped, and the error stays one line.
#[test]
fn names_from_the_file_cannot_forge_lines_or_drive_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let name = "n\nerror: forged\u{1b}[31m";
    // No W: the error names the node.
    let path = write(
        dir.path(),
        "m.onnx",
        &model("p", graph(lstm_node(name, "", &["X", "W", "R"]), &[], &[])),
    );
    let o = info(&path);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}");
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains("\nerror: forged"),
        "{stdout}"
    );
    assert!(stdout.contains("n\\nerror: forged\\u{1b}[31m"), "{stdout}");

    let x = tiny_input(dir.path());
    let o = cpu_run(&path, &x, &dir.path().join("out")).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr:?}");
    assert!(
        stderr.starts_with("error: ") && !stderr.contains('\u{1b}'),
        "{stderr:?}"
    );
}

/// Models onnxruntime runs: an LSTM in domain `ai.onnx` (the default domain's other spelling),
/// and a producer name that puts `{` at byte 8, where a safetensors header would start.
#[test]
fn valid_models_the_loader_once_refused_load() {
    let dir = tempfile::tempdir().unwrap();
    for (file, producer, domain) in [
        ("domain.onnx", "p", "ai.onnx"),
        // Bytes 0..8: ir_version (2 bytes), the producer's tag and length, then "abcd": '{' is
        // byte 8.
        ("producer.onnx", "abcd{xyz}", ""),
    ] {
        let bytes = model(
            producer,
            graph(lstm_node("lstm", domain, &["X", "W", "R", "B"]), &weights(), &[]),
        );
        if producer.contains('{') {
            assert_eq!(bytes[8], b'{', "the case puts '{{' at byte 8");
        }
        let path = write(dir.path(), file, &bytes);
        let o = info(&path);
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{file}: {stderr}");
        assert!(stdout.contains("1 LSTM node(s)"), "{file}: {stdout}");
        assert!(stdout.contains("weights: resolved"), "{file}: {stdout}");
    }
}

/// A W given as a sparse initializer is read densified, as onnxruntime reads it: its values
/// at their indices, zeros elsewhere.
#[test]
fn a_sparse_initializer_is_read_densified() {
    let dir = tempfile::tempdir().unwrap();
    // SparseTensorProto: values 1 (the named tensor), indices 2 (INT64 [NNZ] linear), dims 3.
    let values = tensor("W", &[3], &[0.5, -0.25, 0.75]);
    let mut indices = int_field(1, 3);
    indices.extend(int_field(2, 7)); // INT64
    let mut packed = Vec::new();
    for i in [0u64, 3, 7] {
        varint(i, &mut packed);
    }
    indices.extend(field(7, &packed)); // int64_data
    let mut sparse = field(1, &values);
    sparse.extend(field(2, &indices));
    for d in [1u64, 4, 2] {
        sparse.extend(int_field(3, d));
    }
    let bytes = model(
        "p",
        graph(
            lstm_node("lstm", "", &["X", "W", "R"]),
            &weights()[1..2],
            &[sparse],
        ),
    );
    let path = write(dir.path(), "sparse.onnx", &bytes);
    let stdout = String::from_utf8_lossy(&info(&path).stdout).into_owned();
    assert!(stdout.contains("weights: resolved"), "{stdout}");
    let lstm = wgpu_lstm::onnx::OnnxModel::open(&path)
        .unwrap()
        .load(&[])
        .unwrap();
    let mut w: Vec<f32> = lstm.weights.layers()[0][0].w_ih.clone();
    w.sort_by(f32::total_cmp);
    assert_eq!(w, [-0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.75]);
}

/// An empty file is named as empty, not as a short safetensors header.
#[test]
fn an_empty_model_file_is_named_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "empty.onnx", &[]);
    let o = info(&path);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr.contains("the file is empty"), "{stderr}");
}

/// Attributes of the wrong type, given twice, or out of their domain are errors naming them, as
/// onnxruntime's checker has them; none falls back silently to a default.
#[test]
fn attributes_are_checked_by_type_and_uniqueness() {
    let dir = tempfile::tempdir().unwrap();
    let x = tiny_input(dir.path());
    let hidden = |v: u64| attribute("hidden_size", INT, int_field(3, v));
    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        (
            "clip as INT",
            vec![attribute("clip", INT, int_field(3, 3))],
            "attribute 'clip' is INT, where LSTM takes FLOAT",
        ),
        (
            "activations as one STRING",
            vec![attribute("activations", STRING, field(4, b"Relu"))],
            "attribute 'activations' is STRING, where LSTM takes STRINGS",
        ),
        (
            "hidden_size twice",
            vec![hidden(1), hidden(2)],
            "attribute 'hidden_size' is given twice",
        ),
        (
            "hidden_size as FLOAT",
            vec![attribute("hidden_size", FLOAT, float_field(2, 1.0))],
            "attribute 'hidden_size' is FLOAT, where LSTM takes INT",
        ),
        (
            "direction sideways",
            vec![attribute("direction", STRING, field(4, b"sideways"))],
            "direction 'sideways' (forward, reverse or bidirectional)",
        ),
    ];
    for (case, attributes, needle) in cases {
        let node = lstm_node_with("lstm", "", &["X", "W", "R", "B"], &attributes);
        let path = write(dir.path(), "a.onnx", &model("p", graph(node, &weights(), &[])));
        let o = cpu_run(&path, &x, &dir.path().join("out")).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{case}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{case}: {stderr}");
        assert!(stderr.contains(needle), "{case}: {stderr}");
    }
}

/// W stored outside the model as `w.bin` (TensorProto external_data 13: location; data_location
/// 14 = EXTERNAL).
fn external_w() -> Vec<u8> {
    let mut t = Vec::new();
    for d in [1u64, 4, 2] {
        t.extend(int_field(1, d));
    }
    t.extend(int_field(2, 1));
    t.extend(field(8, b"W"));
    let mut entry = field(1, b"location");
    entry.extend(field(2, b"w.bin"));
    t.extend(field(13, &entry));
    t.extend(int_field(14, 1));
    t
}

/// A thread swaps the model's external data file for a symbolic link to a file outside its
/// folder and back, as fast as it can, while the model loads again and again: a load either
/// reads the file inside or fails, and never returns the bytes outside.
#[cfg(unix)]
#[test]
fn a_symlink_swapped_in_while_loading_never_reads_outside_the_folder() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("model");
    std::fs::create_dir(&folder).unwrap();
    let inside: Vec<u8> = [0.25f32; 8].iter().flat_map(|v| v.to_le_bytes()).collect();
    let secret: Vec<u8> = [999.0f32; 8].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(root.path().join("secret.bin"), &secret).unwrap();
    std::fs::write(folder.join("w.bin"), &inside).unwrap();
    let mut inits = vec![external_w()];
    inits.extend(weights().into_iter().skip(1));
    let path = write(
        &folder,
        "m.onnx",
        &model(
            "p",
            graph(lstm_node("lstm", "", &["X", "W", "R", "B"]), &inits, &[]),
        ),
    );

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, folder, inside) = (stop.clone(), folder.clone(), inside.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let link = folder.join("w.link");
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink("../secret.bin", &link).unwrap();
                std::fs::rename(&link, folder.join("w.bin")).unwrap();
                let regular = folder.join("w.regular");
                std::fs::write(&regular, &inside).unwrap();
                std::fs::rename(&regular, folder.join("w.bin")).unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let (mut loaded, mut refused) = (0, 0);
    for _ in 0..1000 {
        match wgpu_lstm::onnx::OnnxModel::open(&path).and_then(|m| m.load(&[])) {
            Ok(lstm) => {
                let w = &lstm.weights.layers()[0][0].w_ih;
                assert!(w.iter().all(|&v| v == 0.25), "read outside the folder: {w:?}");
                loaded += 1;
            }
            Err(_) => refused += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(
        swaps > 0 && loaded > 0 && loaded + refused == 1000,
        "{swaps} swaps, {loaded} loaded, {refused} refused"
    );
}

/// `info` tells a constant that fails to load from an input computed at run time, and does not
/// invent an input size when W does not resolve.
#[test]
fn info_says_what_fails_to_load_and_what_it_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    // initial_h as an initializer of the wrong size (3 values for [1, 1, 2]); no W.
    let h0 = tensor("h0", &[1, 1, 2], &[0.0; 3]);
    let node = lstm_node("lstm", "", &["X", "W", "R", "", "", "h0"]);
    let path = write(dir.path(), "m.onnx", &model("p", graph(node, &[h0], &[])));
    let stdout = String::from_utf8_lossy(&info(&path).stdout).into_owned();
    assert!(
        stdout.contains("initial_h: constant, but it fails to load:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("input_size unknown (W does not resolve)"),
        "{stdout}"
    );
}
