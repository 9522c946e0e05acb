//! Golden values from outside implementations, through the library API on both paths.
//!
//! The cases in `tests/golden/*/` were produced by `tests/golden/make_golden.py`:
//! PyTorch-convention cases by `torch.nn.LSTM` (packed sequences for lengths), ONNX-convention
//! cases by onnxruntime's CPU LSTM kernel. Regenerate them with
//!     python3 -m venv /tmp/golden && /tmp/golden/bin/pip install numpy onnx onnxruntime safetensors torch
//!     /tmp/golden/bin/python tests/golden/make_golden.py
//! They cover multi-layer, bidirectional, seq_lens, h0/c0, batch-first (ONNX layout 1), f16,
//! bf16 and f64 stored weights, a key prefix, no bias, saturating inputs, projections, and every
//! ONNX attribute (reverse, peepholes, clip, input_forget, all eleven activations with
//! alpha/beta), plus the ONNX backend suite's four LSTM node tests (`test_lstm_*`, which give
//! only some outputs). `tests/golden/make_golden_cells.py` made the GRU and RNN cases the same
//! way: torch.nn.GRU / nn.RNN, onnxruntime's GRU (both linear_before_reset modes) and RNN, and
//! the backend suite's six GRU and six RNN node tests (`test_gru_*`, `test_*rnn_*`). Each case's
//! `args` file holds the `wgpu-lstm run` flags it needs. Each
//! output is held to twice the error model's bound (`ErrorBound::for_model`): both sides round
//! in f32.

mod common;

use std::path::Path;

use wgpu_lstm::read_lengths_npy;
use wgpu_lstm::{
    Activation, Comparison, Convention, CpuLstm, Dims, Direction, ErrorBound, Layout, Lstm, LstmConfig,
    LstmWeights, Output, State, Tensor,
};

struct Golden {
    name: String,
    convention: Convention,
    config: LstmConfig,
    weights: LstmWeights,
    input: Tensor,
    initial: Option<State>,
    lens: Option<Vec<usize>>,
    /// Expected y, h_n, c_n in the convention's file shapes, where the case gives them.
    expected: [Option<Tensor>; 3],
}

/// The `run` flags of a case, applied through the library API.
fn configure(args: &str, weights: LstmWeights) -> (LstmWeights, LstmConfig) {
    let mut words = args.split_whitespace();
    let list = |v: Option<&str>| -> Vec<String> { v.unwrap().split(',').map(String::from).collect() };
    let floats = |v: Option<&str>| -> Vec<f32> { list(v).iter().map(|x| x.parse().unwrap()).collect() };
    let (mut weights, mut layout, mut clip, mut input_forget) = (weights, Layout::SeqMajor, None, false);
    let mut linear_before_reset = false;
    let (mut names, mut alphas, mut betas) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(flag) = words.next() {
        match flag {
            "--batch-first" => layout = Layout::BatchMajor,
            "--direction" => {
                assert_eq!(words.next(), Some("reverse"));
                weights = weights.with_direction(Direction::Reverse).unwrap();
            }
            "--clip" => clip = Some(words.next().unwrap().parse().unwrap()),
            "--input-forget" => input_forget = true,
            "--linear-before-reset" => linear_before_reset = true,
            "--activations" => names = list(words.next()),
            "--activation-alpha" => alphas = floats(words.next()),
            "--activation-beta" => betas = floats(words.next()),
            other => panic!("unknown flag {other} in a golden case"),
        }
    }
    if linear_before_reset {
        weights = weights.with_linear_before_reset(true).unwrap();
    }
    let mut config = weights.config(layout);
    config.clip = clip;
    config.input_forget = input_forget;
    if !names.is_empty() {
        config.activations = Activation::parse_list_for(
            &names,
            &alphas,
            &betas,
            config.num_directions(),
            config.cell.activations(),
        )
        .unwrap();
    }
    (weights, config)
}

fn load(dir: &Path) -> Golden {
    let args = std::fs::read_to_string(dir.join("args")).unwrap();
    let (weights, convention) = LstmWeights::load(&dir.join("weights.safetensors"), None).unwrap();
    let (weights, config) = configure(&args, weights);
    let layout = config.layout;
    let read = |name: &str| Tensor::read_npy(&dir.join(name)).unwrap();
    let initial = dir.join("h0.npy").exists().then(|| {
        let h = convention.state_from_file(layout, read("h0.npy")).unwrap();
        // Cells without a cell state have no c0.npy.
        let c = match dir.join("c0.npy").exists() {
            true => convention.state_from_file(layout, read("c0.npy")).unwrap(),
            false => Tensor::zeros(vec![h.shape()[0], h.shape()[1], 0]).unwrap(),
        };
        State { h, c }
    });
    let lens = dir
        .join("lens.npy")
        .exists()
        .then(|| read_lengths_npy(&dir.join("lens.npy")).unwrap());
    let expected = |name: &str| dir.join(name).exists().then(|| read(name));
    Golden {
        name: dir.file_name().unwrap().to_string_lossy().into(),
        convention,
        config,
        weights,
        input: read("x.npy"),
        initial,
        lens,
        expected: [
            expected("expected_y.npy"),
            expected("expected_h_n.npy"),
            expected("expected_c_n.npy"),
        ],
    }
}

fn check(g: &Golden, device: &str, out: Output) {
    let layout = g.config.layout;
    let got = [
        g.convention.y_to_file(&g.config, out.y).unwrap(),
        g.convention.state_to_file(layout, out.h_n).unwrap(),
        g.convention.state_to_file(layout, out.c_n).unwrap(),
    ];
    assert!(
        g.expected.iter().any(Option::is_some),
        "{}: no expected output",
        g.name
    );
    // The outside implementations round in f32 too (torch's CPU kernel, onnxruntime's): each
    // side may be off by the error model's bound, so the two may differ by twice it.
    let dims = Dims {
        seq_len: g.input.shape()[if layout == Layout::SeqMajor { 0 } else { 1 }],
        batch: g.input.shape()[if layout == Layout::SeqMajor { 1 } else { 0 }],
    };
    let bound = ErrorBound::for_model(&g.config, dims);
    let bound = ErrorBound {
        atol: OUTSIDE_F32 * bound.atol,
        rtol: OUTSIDE_F32 * bound.rtol,
    };
    for ((what, got), expected) in ["y", "h_n", "c_n"].iter().zip(&got).zip(&g.expected) {
        let name = format!("{} {device} {what}", g.name);
        common::assert_finite(&name, got);
        let Some(expected) = expected else { continue };
        let c = Comparison::of_tensor("golden", got, expected, bound).unwrap();
        assert!(
            c.passed(),
            "{name}: {:.3} of the bound {bound} at {:?}",
            c.worst_ratio,
            c.worst
        );
    }
}

/// Both sides of a golden comparison round in f32: twice the error model's bound.
const OUTSIDE_F32: f32 = 2.0;

#[test]
fn cpu_reference_matches_outside_implementations() {
    for dir in common::golden_cases() {
        let g = load(&dir);
        let cpu = CpuLstm::new(&g.config, &g.weights).unwrap();
        let out = cpu
            .forward_with_lens(&g.input, g.initial.as_ref(), g.lens.as_deref())
            .unwrap();
        check(&g, "cpu", out);
    }
}

#[test]
fn gpu_matches_outside_implementations() {
    let Some(ctx) = common::gpu() else { return };
    for dir in common::golden_cases() {
        let g = load(&dir);
        let gpu = Lstm::new(&ctx.device, &ctx.queue, &g.config, &g.weights).unwrap();
        let out = gpu
            .forward_with_lens(&g.input, g.initial.as_ref(), g.lens.as_deref())
            .unwrap();
        check(&g, "gpu", out);
    }
}

#[test]
fn cases_cover_both_conventions_and_stored_dtypes() {
    let all: Vec<Golden> = common::golden_cases().iter().map(|d| load(d)).collect();
    for conv in [Convention::PyTorch, Convention::Onnx] {
        assert!(all.iter().any(|g| g.convention == conv), "{conv}");
        assert!(
            all.iter()
                .any(|g| g.convention == conv && g.config.layout == Layout::BatchMajor),
            "{conv} batch-first"
        );
        assert!(
            all.iter().any(|g| g.convention == conv && g.lens.is_some()),
            "{conv} lens"
        );
    }
    assert!(all.iter().any(|g| g.weights.num_layers() > 1), "multi-layer");
    // The dtypes the weight files hold, read from the files themselves.
    let stored: std::collections::BTreeSet<safetensors::Dtype> = common::golden_cases()
        .iter()
        .flat_map(|dir| {
            let bytes = std::fs::read(dir.join("weights.safetensors")).unwrap();
            let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            file.tensors()
                .into_iter()
                .map(|(_, view)| view.dtype())
                .collect::<Vec<_>>()
        })
        .collect();
    for dtype in [
        safetensors::Dtype::F16,
        safetensors::Dtype::BF16,
        safetensors::Dtype::F64,
        safetensors::Dtype::F32,
    ] {
        assert!(stored.contains(&dtype), "{dtype:?} weights");
    }
    assert!(
        all.iter().any(|g| g.name.contains("saturating")),
        "saturating inputs"
    );
    // Every ONNX attribute and the PyTorch projection.
    let any = |what: &str, f: &dyn Fn(&Golden) -> bool| assert!(all.iter().any(f), "{what}");
    any("reverse", &|g| g.config.direction == Direction::Reverse);
    any("peepholes", &|g| g.config.peepholes);
    any("clip", &|g| g.config.clip.is_some());
    any("input_forget", &|g| g.config.input_forget);
    any("projection with layers", &|g| {
        g.config.proj_size.is_some() && g.config.num_layers > 1
    });
    any("per-direction activations", &|g| {
        g.config.num_directions() == 2 && g.config.activations_of(0) != g.config.activations_of(1)
    });
    for kind in wgpu_lstm::ActivationKind::ALL {
        any(kind.name(), &|g| {
            g.config.activations.iter().any(|a| a.kind == kind)
        });
        any(&format!("saturating {}", kind.name()), &|g| {
            g.name.contains("saturating")
                && (g.config.activations.iter().any(|a| a.kind == kind)
                    || (g.config.activations.is_empty() && matches!(kind.name(), "Sigmoid" | "Tanh")))
        });
    }
    for backend in [
        "test_lstm_defaults",
        "test_lstm_with_initial_bias",
        "test_lstm_with_peepholes",
        "test_lstm_batchwise",
    ] {
        any(backend, &|g| g.name == backend);
    }
}
