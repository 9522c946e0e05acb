//! Golden values from outside implementations, through the library API on both paths.
//!
//! The cases in `tests/golden/*/` were produced by `tests/golden/make_golden.py`:
//! PyTorch-convention cases by `torch.nn.LSTM` (packed sequences for lengths), ONNX-convention
//! cases by onnxruntime's CPU LSTM kernel. Regenerate them with
//!     python3 -m venv /tmp/golden && /tmp/golden/bin/pip install numpy onnx onnxruntime safetensors torch
//!     /tmp/golden/bin/python tests/golden/make_golden.py
//! They cover multi-layer, bidirectional, seq_lens, h0/c0, batch-first (ONNX layout 1), f16,
//! bf16 and f64 stored weights, a key prefix, no bias, and saturating inputs.

mod common;

use std::path::Path;

use wgpu_lstm::forward::CONFORMANCE_TOLERANCE;
use wgpu_lstm::tensor::read_lengths_npy;
use wgpu_lstm::{Convention, CpuLstm, Layout, Lstm, LstmWeights, Output, State, Tensor};

struct Golden {
    name: String,
    convention: Convention,
    layout: Layout,
    weights: LstmWeights,
    input: Tensor,
    initial: Option<State>,
    lens: Option<Vec<usize>>,
    /// Expected y, h_n, c_n in the convention's file shapes.
    expected: [Tensor; 3],
}

fn load(dir: &Path) -> Golden {
    let args = std::fs::read_to_string(dir.join("args")).unwrap();
    let layout = if args.contains("--batch-first") {
        Layout::BatchMajor
    } else {
        Layout::SeqMajor
    };
    let (weights, convention) = LstmWeights::load(&dir.join("weights.safetensors"), None).unwrap();
    let read = |name: &str| Tensor::read_npy(&dir.join(name)).unwrap();
    let initial = dir.join("h0.npy").exists().then(|| State {
        h: convention.state_from_file(layout, read("h0.npy")),
        c: convention.state_from_file(layout, read("c0.npy")),
    });
    let lens = dir
        .join("lens.npy")
        .exists()
        .then(|| read_lengths_npy(&dir.join("lens.npy")).unwrap());
    Golden {
        name: dir.file_name().unwrap().to_string_lossy().into(),
        convention,
        layout,
        weights,
        input: read("x.npy"),
        initial,
        lens,
        expected: [
            read("expected_y.npy"),
            read("expected_h_n.npy"),
            read("expected_c_n.npy"),
        ],
    }
}

fn check(g: &Golden, device: &str, out: Output) {
    let config = g.weights.config(g.layout);
    let got = [
        g.convention.y_to_file(&config, out.y),
        g.convention.state_to_file(g.layout, out.h_n),
        g.convention.state_to_file(g.layout, out.c_n),
    ];
    for ((what, got), expected) in ["y", "h_n", "c_n"].iter().zip(&got).zip(&g.expected) {
        common::assert_finite(&format!("{} {device} {what}", g.name), got);
        common::assert_close(
            &format!("{} {device} {what}", g.name),
            got,
            expected,
            CONFORMANCE_TOLERANCE,
        );
    }
}

#[test]
fn cpu_reference_matches_outside_implementations() {
    for dir in common::golden_cases() {
        let g = load(&dir);
        let cpu = CpuLstm::new(&g.weights.config(g.layout), &g.weights).unwrap();
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
        let gpu = Lstm::new(
            &ctx.device,
            &ctx.queue,
            &g.weights.config(g.layout),
            &g.weights,
        )
        .unwrap();
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
                .any(|g| g.convention == conv && g.layout == Layout::BatchMajor),
            "{conv} batch-first"
        );
        assert!(
            all.iter().any(|g| g.convention == conv && g.lens.is_some()),
            "{conv} lens"
        );
    }
    assert!(
        all.iter().any(|g| g.weights.num_layers() > 1),
        "multi-layer"
    );
    for dtype in ["f16", "bf16", "f64"] {
        assert!(
            all.iter().any(|g| g.name.contains(dtype)),
            "{dtype} weights"
        );
    }
    assert!(
        all.iter().any(|g| g.name.contains("saturating")),
        "saturating inputs"
    );
}
