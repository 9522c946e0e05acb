//! `.onnx` models read directly (tests/onnx/, made by tests/onnx/make_models.py): the ONNX
//! backend test models with their input and output protobufs, torch.onnx.export's multi-layer
//! bidirectional LSTM under both exporters (against the same weights as a state_dict), a graph
//! that hides the weights behind folding chains, an If branch, Constant nodes and external data,
//! and silero-vad's real model; each against onnxruntime's outputs on the GPU and the CPU. Then
//! every error path: typed, naming what is wrong.

mod common;

use common::bin;

use std::path::{Path, PathBuf};

use wgpu_lstm::onnx::{tensor_from_protobuf, InputSource, OnnxModel};
use wgpu_lstm::{
    Convention, CpuLstm, Error, Layout, Lstm, LstmConfig, LstmWeights, OnnxProblem, Output, State, Tensor,
};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/onnx")
        .join(name)
}

fn npy(path: PathBuf) -> Tensor {
    Tensor::read_npy(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The forward on the CPU reference and, where there is an adapter, on the GPU.
fn forwards(
    config: &LstmConfig,
    weights: &LstmWeights,
    x: &Tensor,
    state: Option<&State>,
    lens: Option<&[usize]>,
) -> Vec<(&'static str, Output)> {
    let mut out = vec![(
        "cpu",
        CpuLstm::new(config, weights)
            .unwrap()
            .forward_with_lens(x, state, lens)
            .unwrap(),
    )];
    if let Some(ctx) = common::gpu() {
        let gpu = Lstm::new(&ctx.device, &ctx.queue, config, weights).unwrap();
        out.push(("gpu", gpu.forward_with_lens(x, state, lens).unwrap()));
    }
    out
}

#[test]
fn backend_test_models_match_their_outputs() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir("backend")).unwrap() {
        let case = entry.unwrap().path();
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let mut model = OnnxModel::open(&case.join("model.onnx")).unwrap();
        let pb = |kind: &str, j: usize| {
            let path = case.join(format!("test_data_set_0/{kind}_{j}.pb"));
            path.exists()
                .then(|| tensor_from_protobuf(&std::fs::read(&path).unwrap()).unwrap())
        };
        // Input 0 is X; the rest (weights, initial state) are bound as the model's values.
        let (_, x) = pb("input", 0).unwrap();
        let mut j = 1;
        while let Some((input, value)) = pb("input", j) {
            model.bind_input(&input, &value).unwrap();
            j += 1;
        }
        let node = &model.lstm_nodes()[0];
        let lstm = model.load(&[]).unwrap();
        let config = &lstm.config;
        for (engine, out) in forwards(
            config,
            &lstm.weights,
            &x,
            lstm.initial.as_ref(),
            lstm.seq_lens.as_deref(),
        ) {
            let mut k = 0;
            while let Some((output, expected)) = pb("output", k) {
                let got = if output == node.outputs[0] {
                    Convention::Onnx.y_to_file(config, out.y.clone()).unwrap()
                } else if output == node.outputs[1] {
                    Convention::Onnx
                        .state_to_file(config.layout, out.h_n.clone())
                        .unwrap()
                } else {
                    assert_eq!(output, node.outputs[2], "{name}");
                    Convention::Onnx
                        .state_to_file(config.layout, out.c_n.clone())
                        .unwrap()
                };
                common::assert_close(
                    &format!("{name} {engine} {output}"),
                    &got,
                    &expected,
                    common::TOLERANCE,
                );
                k += 1;
            }
            assert!(k > 0, "{name}: no outputs");
        }
        seen += 1;
    }
    // defaults, initial_bias, peepholes, batchwise, reverse, bidirectional
    assert_eq!(seen, 6);
}

/// torch.onnx.export writes a 2-layer LSTM as one node per layer: stacked with --node in order,
/// they hold exactly the state_dict's weights and give onnxruntime's outputs of the whole graph.
#[test]
fn torch_exports_stack_into_the_state_dicts_lstm() {
    for export in ["torch_dynamo", "torch_legacy"] {
        let d = dir(export);
        let model = OnnxModel::open(&d.join("model.onnx")).unwrap();
        let nodes = model.lstm_nodes();
        assert_eq!(nodes.len(), 2, "{export}");
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        let lstm = model.load(&names).unwrap();
        let (state_dict, _) =
            LstmWeights::load(&d.join("state_dict.safetensors"), Some(Convention::PyTorch)).unwrap();
        assert_eq!(
            lstm.weights, state_dict,
            "{export}: the weights differ from the state_dict"
        );
        assert_eq!(lstm.config.num_layers, 2);
        assert_eq!(lstm.config.layout, Layout::SeqMajor);
        // The export takes batch-first x and transposes it before the first node.
        let x = npy(d.join("x.npy")).permuted(&[1, 0, 2]).unwrap();
        let expected_y = npy(d.join("expected_y.npy")).permuted(&[1, 0, 2]).unwrap();
        for (engine, out) in forwards(&lstm.config, &lstm.weights, &x, lstm.initial.as_ref(), None) {
            common::assert_close(
                &format!("{export} {engine} y"),
                &out.y,
                &expected_y,
                common::TOLERANCE,
            );
            common::assert_close(
                &format!("{export} {engine} h_n"),
                &out.h_n,
                &npy(d.join("expected_h_n.npy")),
                common::TOLERANCE,
            );
            common::assert_close(
                &format!("{export} {engine} c_n"),
                &out.c_n,
                &npy(d.join("expected_c_n.npy")),
                common::TOLERANCE,
            );
        }
        // Layers in the wrong order do not stack.
        let err = model.load(&[names[1], names[0]]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Onnx {
                    problem: OnnxProblem::Selection,
                    ..
                }
            ) && err.to_string().contains("D·H = 14"),
            "{err}"
        );
    }
}

fn run_cli(args: &[&str]) -> std::process::Output {
    bin().args(args).output().unwrap()
}

/// `run --weights model.onnx` with no option flags: every attribute (bidirectional,
/// per-direction activations with alpha/beta, clip, layout 1, peepholes) comes from the node,
/// found in an If branch, with its weights folded from chains over initializers, Constant
/// nodes and external data; flags that contradict the node are errors naming both values.
#[test]
fn run_reads_every_attribute_from_a_hidden_node() {
    let d = dir("hidden");
    let model = d.join("model.onnx");
    for device in ["cpu", "gpu"] {
        if device == "gpu" && common::gpu().is_none() {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = run_cli(&[
            "run",
            "--weights",
            model.to_str().unwrap(),
            "--input",
            d.join("x.npy").to_str().unwrap(),
            "--seq-lens",
            d.join("lens.npy").to_str().unwrap(),
            "--h0",
            d.join("h0.npy").to_str().unwrap(),
            "--c0",
            d.join("c0.npy").to_str().unwrap(),
            "--device",
            device,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for n in ["h_n", "c_n"] {
            common::assert_close(
                &format!("hidden {device} {n}"),
                &npy(out.join(format!("{n}.npy"))),
                &npy(d.join(format!("expected_{n}.npy"))),
                common::TOLERANCE,
            );
        }
    }
    let base = [
        "run",
        "--weights",
        model.to_str().unwrap(),
        "--input",
        d.to_str().unwrap(),
        "--device",
        "cpu",
        "--out",
        "/nonexistent/never-written",
    ];
    for (flags, needles) in [
        (vec!["--clip", "1"], vec!["--clip", "1.0", "2.5"]),
        (
            vec!["--direction", "forward"],
            vec!["--direction", "Forward", "Bidirectional"],
        ),
        (vec!["--input-forget"], vec!["--input-forget"]),
        (
            vec!["--activations", "Sigmoid,Tanh,Tanh,Sigmoid,Tanh,Tanh"],
            vec!["--activations", "HardSigmoid(0.3, 0.4)"],
        ),
        (vec!["--convention", "pytorch"], vec!["--convention", "ONNX"]),
        (
            vec!["--node", "nope"],
            vec!["no LSTM node is called 'nope'", "hidden_lstm"],
        ),
    ] {
        let o = run_cli(&[&base[..], &flags[..]].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{flags:?}");
        for needle in needles {
            assert!(err.contains(needle), "{flags:?}: {err}");
        }
    }
    // A flag that agrees with the node is accepted: the model's layout is batch-first.
    let o = run_cli(
        &[
            &base[..],
            &["--batch-first", "--node", "branch.then_branch/hidden_lstm"],
        ]
        .concat(),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("contradicts") && !err.contains("selection"),
        "{err}"
    );
}

/// silero-vad's model: four LSTM nodes, two If levels deep, weights behind Slice/Concat/
/// Unsqueeze chains of Constant nodes; `info` lists them and `run --node` matches onnxruntime
/// on the weights onnxruntime computes from the same nodes.
#[test]
fn silero_vads_lstm_runs_from_the_real_model() {
    let d = dir("silero");
    let model = d.join("silero_vad.onnx");
    let node = std::fs::read_to_string(d.join("node"))
        .unwrap()
        .trim()
        .to_string();
    let o = run_cli(&["info", "--weights", model.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("4 LSTM node(s)"), "{out}");
    assert!(out.contains(&format!("] {node}")), "{out}");
    assert!(
        out.contains("in: If_0.else_branch / If_0_else_branch__Inline_0__/decoder/If_1.then_branch"),
        "{out}"
    );
    assert_eq!(out.matches("weights: resolved (W, R, B)").count(), 4, "{out}");
    assert!(out.contains("initial_h: computed at run time"), "{out}");

    let lstm = OnnxModel::open(&model).unwrap().load(&[&node]).unwrap();
    assert_eq!((lstm.config.input_size, lstm.config.hidden_size), (128, 128));
    for device in ["cpu", "gpu"] {
        if device == "gpu" && common::gpu().is_none() {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let path = |f: &str| d.join(f).to_str().unwrap().to_string();
        let o = run_cli(&[
            "run",
            "--weights",
            &path("silero_vad.onnx"),
            "--node",
            &node,
            "--input",
            &path("x.npy"),
            "--h0",
            &path("h0.npy"),
            "--c0",
            &path("c0.npy"),
            "--device",
            device,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for n in ["y", "h_n", "c_n"] {
            common::assert_close(
                &format!("silero {device} {n}"),
                &npy(out.join(format!("{n}.npy"))),
                &npy(d.join(format!("expected_{n}.npy"))),
                common::TOLERANCE,
            );
        }
    }
    // Without --node the choice is the user's, with the nodes listed.
    let o = run_cli(&[
        "run",
        "--weights",
        model.to_str().unwrap(),
        "--input",
        d.join("x.npy").to_str().unwrap(),
        "--out",
        "/nonexistent/x",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("4 LSTM nodes; choose with --node"),
        "{err}"
    );
}

#[test]
fn info_describes_runtime_inputs_and_constants() {
    let model = OnnxModel::open(&dir("hidden").join("model.onnx")).unwrap();
    let node = &model.lstm_nodes()[0];
    assert_eq!(node.path, ["branch.then_branch"]);
    assert_eq!(node.qualified_name(), "branch.then_branch/hidden_lstm");
    assert_eq!(node.input_size, Some(5));
    assert!(node.weights.is_ok());
    assert_eq!(
        node.inputs,
        [
            ("X", InputSource::GraphInput("x".into())),
            ("sequence_lens", InputSource::GraphInput("lens".into())),
            ("initial_h", InputSource::GraphInput("h0".into())),
            ("initial_c", InputSource::GraphInput("c0".into())),
        ]
    );
    let dynamo = OnnxModel::open(&dir("torch_dynamo").join("model.onnx")).unwrap();
    for node in dynamo.lstm_nodes() {
        assert!(
            matches!(node.inputs[0].1, InputSource::Computed(_)),
            "{:?}",
            node.inputs
        );
    }
    // LstmWeights::load tells .onnx from .safetensors by content.
    let (weights, convention) = LstmWeights::load(&dir("hidden").join("model.onnx"), None).unwrap();
    assert_eq!(convention, Convention::Onnx);
    assert!(weights.has_peepholes());
}

/// Every bad model gives a typed error that names what is wrong; nothing panics.
#[test]
fn bad_models_give_typed_errors() {
    let bad = dir("bad");
    let load = |name: &str| OnnxModel::open(&bad.join(format!("{name}.onnx"))).and_then(|m| m.load(&[]));
    for (name, problem, needle) in [
        ("missing", OnnxProblem::Missing, "'W' is neither"),
        ("not_foldable", OnnxProblem::NotFoldable, "Mul node 'square'"),
        ("not_constant", OnnxProblem::NotConstant, "'W' is a graph input"),
        ("cyclic", OnnxProblem::Cycle, "depends on itself"),
        ("bad_sizes", OnnxProblem::Size, "hidden_size 4"),
        ("too_large", OnnxProblem::Size, "more than"),
        ("external_absolute", OnnxProblem::ExternalData, "/etc/hostname"),
        ("external_dotdot", OnnxProblem::ExternalData, "../secret.bin"),
        ("unknown_attribute", OnnxProblem::Unsupported, "hidden_layers"),
        ("two_lstms", OnnxProblem::Selection, "lstm, second"),
    ] {
        match load(name) {
            Err(Error::Onnx {
                problem: p, message, ..
            }) => {
                assert_eq!(p, problem, "{name}: {message}");
                assert!(message.contains(needle), "{name}: {message}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let two = OnnxModel::open(&bad.join("two_lstms.onnx")).unwrap();
    assert_eq!(two.load(&["second"]).unwrap().nodes, ["second"]);

    // A truncated model, and bytes that are no protobuf at all.
    let bytes = std::fs::read(dir("torch_dynamo").join("model.onnx")).unwrap();
    for cut in [&bytes[..bytes.len() / 2], &b"\x0a\xff\xff\xff\xff\x0f"[..]] {
        match OnnxModel::from_bytes(cut, None) {
            Err(Error::Onnx {
                problem: OnnxProblem::Protobuf,
                ..
            }) => {}
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    // External data without a folder, and through a symbolic link out of the model's folder.
    let hidden = std::fs::read(dir("hidden").join("model.onnx")).unwrap();
    let err = OnnxModel::from_bytes(&hidden, None)
        .unwrap()
        .load(&[])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Onnx {
                problem: OnnxProblem::ExternalData,
                ..
            }
        ),
        "{err}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let inside = tmp.path().join("model");
    std::fs::create_dir(&inside).unwrap();
    std::fs::copy(dir("hidden").join("weights.bin"), tmp.path().join("outside.bin")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("outside.bin"), inside.join("weights.bin")).unwrap();
    std::fs::write(inside.join("model.onnx"), &hidden).unwrap();
    let err = OnnxModel::open(&inside.join("model.onnx"))
        .unwrap()
        .load(&[])
        .unwrap_err();
    // A link is not followed: what the loader opens is inside the folder by construction.
    assert!(
        err.to_string()
            .contains("is reached through a symbolic link, which the loader does not follow"),
        "{err}"
    );
    // A missing external file is an I/O error naming it.
    std::fs::remove_file(inside.join("weights.bin")).unwrap();
    let err = OnnxModel::open(&inside.join("model.onnx"))
        .unwrap()
        .load(&[])
        .unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.to_string().contains("weights.bin"),
        "{err}"
    );

    // The CLI says the same in one line, and --node is refused for .safetensors.
    let o = run_cli(&["info", "--weights", bad.join("cyclic.onnx").to_str().unwrap()]);
    assert!(
        o.status.success(),
        "info lists nodes even when their weights do not resolve"
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("cannot be resolved: "),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/pt_two_layer_bidir/weights.safetensors");
    let o = run_cli(&[
        "run",
        "--weights",
        golden.to_str().unwrap(),
        "--node",
        "x",
        "--input",
        "x",
        "--out",
        "/nonexistent/y",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not an .onnx model"));
}
