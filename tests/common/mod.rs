//! Shared test helpers: the one place tests get a GPU, seeded data, and closeness checks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use rand::{rngs::StdRng, Rng, SeedableRng};
use wgpu_lstm::{Dims, Direction, GpuContext, Gradients, LstmConfig, Tensor};

/// Largest absolute GPU-vs-CPU difference the plumbing tests accept (state passing, encoding
/// into a caller's encoder, streaming, files, the CLI, golden values): they check that the right
/// data reaches the right place, which an error this small cannot fake. The kernels' arithmetic
/// is held to the tighter error model (`ErrorBound`) in tests/conformance.rs and by `conform`.
pub const TOLERANCE: f32 = 1e-4;

/// The shared device, held by one test at a time. wgpu's GL backend funnels all work through
/// one context lock and panics when a thread waits on it for over a second (gfx-rs/wgpu#5299),
/// which long forwards on llvmpipe from parallel tests would do; CPU-only tests still run in
/// parallel.
pub struct Gpu {
    context: &'static GpuContext,
    _turn: MutexGuard<'static, ()>,
}

impl std::ops::Deref for Gpu {
    type Target = GpuContext;
    fn deref(&self) -> &GpuContext {
        self.context
    }
}

/// The adapter wgpu picks (honouring `WGPU_BACKEND` / `WGPU_ADAPTER_NAME`), shared by the tests
/// of one binary. With `CI=true` a missing adapter fails the test; elsewhere the test is skipped
/// with a message.
pub fn gpu() -> Option<Gpu> {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    context().map(|context| Gpu { context, _turn: turn })
}

fn context() -> Option<&'static GpuContext> {
    static CONTEXT: OnceLock<Option<GpuContext>> = OnceLock::new();
    CONTEXT
        .get_or_init(|| match GpuContext::new() {
            Ok(ctx) => {
                eprintln!("GPU tests on {}", ctx.describe());
                Some(ctx)
            }
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true and no GPU adapter: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPING GPU test: {e}");
                None
            }
        })
        .as_ref()
}

/// Every golden case folder under `tests/golden/` (see `make_golden.py` there), sorted.
pub fn golden_cases() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "golden cases missing: {dirs:?}");
    dirs
}

#[allow(unused_imports)]
/// `Tensor::random`, for shapes the tests know fit.
pub fn random_tensor(shape: Vec<usize>, scale: f32, seed: u64) -> Tensor {
    Tensor::random(shape, scale, seed).expect("a test-sized tensor")
}

/// Lengths in 1..=t, with at least one full-length sequence.
pub fn random_lens(batch: usize, t: usize, seed: u64) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lens: Vec<usize> = (0..batch).map(|_| rng.random_range(1..=t)).collect();
    lens[0] = t;
    lens
}

/// Worst absolute error between two tensors, with the flat index where it occurs.
pub fn worst_error(got: &Tensor, expected: &Tensor) -> (f32, usize) {
    assert_eq!(got.shape(), expected.shape(), "shape mismatch");
    got.data()
        .iter()
        .zip(expected.data())
        .enumerate()
        .map(|(i, (a, b))| {
            let d = (a - b).abs();
            (
                if d.is_nan() || a.is_nan() != b.is_nan() {
                    f32::INFINITY
                } else {
                    d
                },
                i,
            )
        })
        .fold((0.0, 0), |m, x| if x.0 > m.0 { x } else { m })
}

/// Fail with the worst error and where it is when `got` and `expected` differ by more than `tol`.
pub fn assert_close(what: &str, got: &Tensor, expected: &Tensor, tol: f32) {
    let (err, at) = worst_error(got, expected);
    assert!(
        err <= tol,
        "{what}: worst error {err:.3e} at flat index {at} (got {}, expected {}), tolerance {tol:.0e}",
        got.data()[at],
        expected.data()[at]
    );
}

/// Like [`assert_close`], but each element's error is divided by max(1, |expected|): the same
/// absolute check for values within ±1, a relative one beyond, where f32 cannot hold 1e-4
/// absolute (unbounded activations on saturating inputs reach 1e9).
pub fn assert_close_scaled(what: &str, got: &Tensor, expected: &Tensor, tol: f32) {
    let scaled = |t: &Tensor| {
        Tensor::new(
            t.shape().to_vec(),
            t.data()
                .iter()
                .zip(expected.data())
                .map(|(v, e)| v / e.abs().max(1.0))
                .collect(),
        )
        .unwrap()
    };
    let (err, at) = worst_error(&scaled(got), &scaled(expected));
    assert!(
        err <= tol,
        "{what}: worst error {err:.3e} (relative to max(1, |expected|)) at flat index {at} (got {}, expected {}), \
         tolerance {tol:.0e}",
        got.data()[at],
        expected.data()[at]
    );
}

/// Every element finite.
pub fn assert_finite(what: &str, t: &Tensor) {
    if let Some(i) = t.data().iter().position(|v| !v.is_finite()) {
        panic!("{what}: non-finite value {} at flat index {i}", t.data()[i]);
    }
}

/// Dispatches of one forward with these kernels: per layer the input projection and a dispatch
/// per step (two with a projection), or one for all steps (the sequence kernels); as a wavefront,
/// layer 0's input projection and T + L − 1.
pub fn expected_dispatches(
    variants: wgpu_lstm::gpu::Variants,
    layers: usize,
    t: usize,
    projected: bool,
) -> usize {
    use wgpu_lstm::gpu::{Schedule, StepVariant};
    match (variants.schedule, variants.step) {
        (Schedule::Wavefront, _) => 1 + t + layers - 1,
        (Schedule::Layers, StepVariant::Sequence | StepVariant::SequenceResident) => 2 * layers,
        (Schedule::Layers, _) if projected => layers * (1 + 2 * t),
        (Schedule::Layers, _) => layers * (1 + t),
    }
}

/// A configuration of the given sizes and direction with every other option at its default
/// (biases, seq-major, standard activations).
pub fn config(input: usize, hidden: usize, layers: usize, direction: Direction) -> LstmConfig {
    LstmConfig {
        input_size: input,
        hidden_size: hidden,
        num_layers: layers,
        direction,
        ..LstmConfig::default()
    }
}

/// Check GPU gradients against the reference tensor by tensor, each under its own bound
/// (`conform::compare_gradients`: a small tensor is held to its own scale, never the largest
/// one's); panics naming the worst tensor and element; returns the worst ratio to the bound.
pub fn assert_gradients(
    what: &str,
    config: &LstmConfig,
    dims: Dims,
    gpu: &Gradients,
    cpu: &Gradients,
) -> f32 {
    let checks = wgpu_lstm::conform::compare_gradients(config, dims, gpu, cpu).expect("same shapes");
    let worst = checks
        .iter()
        .max_by(|a, b| a.comparison.worst_ratio.total_cmp(&b.comparison.worst_ratio))
        .expect("a model has weights");
    let c = &worst.comparison;
    assert!(
        c.passed(),
        "{what}: gradient {} is {:.3} of its bound {} (worst {:?})",
        worst.name,
        c.worst_ratio,
        c.bound,
        c.worst
    );
    c.worst_ratio
}

/// The `wgpu-lstm` command built for these tests (by the tests that require the `cli` feature),
/// on the default adapter: an adapter chosen in the developer's environment is ignored.
pub fn bin() -> Command {
    // Only the tests built with the binary (feature `cli`) call this; the others still compile.
    let Some(exe) = option_env!("CARGO_BIN_EXE_wgpu-lstm") else {
        panic!("no wgpu-lstm binary: this test needs the `cli` feature");
    };
    let mut c = Command::new(exe);
    c.env_remove("WGPU_ADAPTER_NAME");
    c
}

/// A file of `tests/golden/`.
pub fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// An `.npy` file (version 1.0) with this header dictionary and data.
pub fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    // Magic (6) + version (2) + length (2) + header, padded with spaces to 64 bytes, then '\n'.
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

/// The input the hostile-model tests run with, `[[[0.5, -0.5]]]` (T = B = 1, I = 2), written
/// into `dir`.
pub fn tiny_input(dir: &Path) -> PathBuf {
    let x = dir.join("x.npy");
    Tensor::new(vec![1, 1, 2], vec![0.5, -0.5])
        .unwrap()
        .write_npy(&x)
        .unwrap();
    x
}

/// `wgpu-lstm run` of `model` on the CPU reference, input `x`, into `out`.
pub fn cpu_run(model: &Path, x: &Path, out: &Path) -> Command {
    let mut c = bin();
    c.args(["run", "--device", "cpu", "--weights"])
        .arg(model)
        .arg("--input")
        .arg(x)
        .arg("--out")
        .arg(out);
    c
}

/// `wgpu-lstm run --weights model --input x --device device` with `extra` flags into a fresh
/// folder: the folder, or the command's stderr.
pub fn run_model(model: &Path, x: &Path, device: &str, extra: &[&str]) -> Result<tempfile::TempDir, String> {
    let out = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["run", "--weights"])
        .arg(model)
        .arg("--input")
        .arg(x)
        .args(["--device", device, "--out"])
        .arg(out.path())
        .args(extra)
        .output()
        .unwrap();
    if o.status.success() {
        Ok(out)
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}
