//! The training commands. `wgpu-lstm grad`: its gradients against central finite differences of
//! `wgpu-lstm run` (a loss L = Σ dy⊙y + Σ dh_n⊙h_n + Σ dc_n⊙c_n over run's output files), GPU
//! against CPU, the keys and shapes of grads.safetensors, and bad input (one line, nothing
//! written). `train-demo` on a short adding problem, with its plot; `bench --train`.

mod common;

use common::{bin, golden};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::{rngs::StdRng, Rng, SeedableRng};
use safetensors::{Dtype, SafeTensors};
use wgpu_lstm::{Convention, Direction, LstmConfig, LstmWeights, Tensor};

/// `grad` against finite differences: the bound the issue sets, relative to the largest gradient.
const FD_TOLERANCE: f64 = 2e-3;
/// Step of the central differences on f32 weights and inputs.
const FD_STEP: f32 = 1e-3;
/// GPU against CPU `grad`, relative to the largest gradient.
const DEVICE_TOLERANCE: f32 = 1e-5;

type Tensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

fn read_safetensors(path: &Path) -> Tensors {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(k, v)| {
            let data = match v.dtype() {
                Dtype::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(v.data()),
                Dtype::F64 => bytemuck::pod_collect_to_vec::<u8, f64>(v.data())
                    .into_iter()
                    .map(|x| x as f32)
                    .collect(),
                other => panic!("{k}: {other:?}"),
            };
            (k, (v.shape().to_vec(), data))
        })
        .collect()
}

fn write_safetensors(path: &Path, tensors: &Tensors) {
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(k, (shape, data))| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytemuck::cast_slice(data))
                    .unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// A model, its input files and extra flags, copied into a scratch folder that the finite
/// differences perturb.
struct Case {
    dir: tempfile::TempDir,
    flags: Vec<String>,
    /// An LSTM's (GRU and RNN goldens say their cell in their name): `run` writes c_n.npy and
    /// `grad` dc0.npy.
    has_c: bool,
}

impl Case {
    fn from_golden(name: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let src = golden(name);
        for f in ["weights.safetensors", "x.npy", "h0.npy", "c0.npy", "lens.npy"] {
            if src.join(f).exists() {
                std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
            }
        }
        let flags = std::fs::read_to_string(src.join("args"))
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect();
        let has_c = !(name.contains("gru") || name.contains("rnn"));
        Case { dir, flags, has_c }
    }

    fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    /// Arguments naming the model and inputs.
    fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--weights".to_string(),
            self.path("weights.safetensors").display().to_string(),
        ];
        a.extend(["--input".into(), self.path("x.npy").display().to_string()]);
        for (flag, f) in [("--h0", "h0.npy"), ("--c0", "c0.npy"), ("--seq-lens", "lens.npy")] {
            if self.path(f).exists() {
                a.extend([flag.into(), self.path(f).display().to_string()]);
            }
        }
        a.extend(self.flags.iter().cloned());
        a
    }

    /// y, h_n and (for an LSTM) c_n as `run --device cpu` writes them.
    fn run(&self) -> Vec<Tensor> {
        let out = tempfile::tempdir().unwrap();
        let o = bin()
            .arg("run")
            .args(self.args())
            .args(["--device", "cpu", "--out"])
            .arg(out.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let written = ["y.npy", "h_n.npy", "c_n.npy"].map(|f| out.path().join(f));
        assert_eq!(written[2].exists(), self.has_c, "c_n.npy exactly for an LSTM");
        written
            .iter()
            .filter(|p| p.exists())
            .map(|p| Tensor::read_npy(p).unwrap())
            .collect()
    }

    /// grads.safetensors, and dx, dh0 and (for an LSTM) dc0.
    fn grad(&self, device: &str, upstream: &[Tensor]) -> (Tensors, Vec<Tensor>) {
        let out = tempfile::tempdir().unwrap();
        let mut flags = Vec::new();
        for ((t, f), flag) in upstream
            .iter()
            .zip(["dy.npy", "dh_n.npy", "dc_n.npy"])
            .zip(["--dy", "--dh-n", "--dc-n"])
        {
            t.write_npy(&self.path(f)).unwrap();
            flags.extend([flag.to_string(), self.path(f).display().to_string()]);
        }
        let o = bin()
            .arg("grad")
            .args(self.args())
            .args(flags)
            .args(["--device", device, "--out"])
            .arg(out.path().join("g"))
            .output()
            .unwrap();
        assert!(o.status.success(), "grad: {}", String::from_utf8_lossy(&o.stderr));
        let g = out.path().join("g");
        let files = ["dx.npy", "dh0.npy", "dc0.npy"].map(|f| g.join(f));
        assert_eq!(files[2].exists(), self.has_c, "dc0.npy exactly for an LSTM");
        (
            read_safetensors(&g.join("grads.safetensors")),
            files
                .iter()
                .filter(|p| p.exists())
                .map(|p| Tensor::read_npy(p).unwrap())
                .collect(),
        )
    }
}

fn loss(outputs: &[Tensor], upstream: &[Tensor]) -> f64 {
    outputs
        .iter()
        .zip(upstream)
        .map(|(o, u)| {
            o.data()
                .iter()
                .zip(u.data())
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum::<f64>()
        })
        .sum()
}

fn random_like(t: &Tensor, rng: &mut StdRng) -> Tensor {
    Tensor::new(
        t.shape().to_vec(),
        (0..t.data().len()).map(|_| rng.random_range(-1.0..1.0)).collect(),
    )
    .unwrap()
}

/// `grad` on `case` against finite differences of `run` at a few entries of every weight tensor
/// and of the input and initial state; and the GPU against the CPU.
fn check(name: &str, case: &Case) {
    let mut rng = StdRng::seed_from_u64(11);
    let outputs = case.run();
    let upstream: Vec<Tensor> = outputs.iter().map(|o| random_like(o, &mut rng)).collect();
    let (weights_grad, inputs_grad) = case.grad("gpu", &upstream);
    let (cpu_weights, cpu_inputs) = case.grad("cpu", &upstream);
    let original = read_safetensors(&case.path("weights.safetensors"));
    assert_eq!(
        weights_grad.iter().map(|(k, (s, _))| (k, s)).collect::<Vec<_>>(),
        original.iter().map(|(k, (s, _))| (k, s)).collect::<Vec<_>>(),
        "{name}: grads.safetensors keys and shapes are the weights file's"
    );
    let largest = weights_grad
        .values()
        .flat_map(|(_, d)| d.iter())
        .chain(inputs_grad.iter().flat_map(|t| t.data().iter()))
        .fold(0.0f32, |m, v| m.max(v.abs()));
    // GPU against CPU.
    let mut device_err = 0.0f32;
    for (k, (_, d)) in &weights_grad {
        for (a, b) in d.iter().zip(&cpu_weights[k].1) {
            device_err = device_err.max((a - b).abs());
        }
    }
    for (a, b) in inputs_grad.iter().zip(&cpu_inputs) {
        device_err = device_err.max(a.max_abs_diff(b).unwrap());
    }
    assert!(
        device_err <= DEVICE_TOLERANCE * largest,
        "{name}: GPU and CPU gradients differ by {device_err:e} (largest gradient {largest})"
    );
    // Finite differences: the largest entry and two random ones of each tensor.
    let mut worst = (0.0f64, String::new());
    let mut probe = |what: String, analytic: f32, perturb: &dyn Fn(f32)| {
        perturb(FD_STEP);
        let up = loss(&case.run(), &upstream);
        perturb(-FD_STEP);
        let down = loss(&case.run(), &upstream);
        perturb(0.0);
        let fd = (up - down) / (2.0 * FD_STEP as f64);
        let err = (fd - analytic as f64).abs() / largest as f64;
        if err > worst.0 {
            worst = (err, format!("{what}: grad {analytic}, finite difference {fd}"));
        }
    };
    for (key, (_, g)) in &weights_grad {
        let top = (0..g.len())
            .max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs()))
            .unwrap();
        for i in [top, rng.random_range(0..g.len()), rng.random_range(0..g.len())] {
            probe(format!("{key}[{i}]"), g[i], &|delta| {
                let mut t = original.clone();
                t.get_mut(key).unwrap().1[i] += delta;
                write_safetensors(&case.path("weights.safetensors"), &t);
            });
        }
    }
    for (file, g) in ["x.npy", "h0.npy", "c0.npy"].iter().zip(&inputs_grad) {
        if !case.path(file).exists() {
            continue;
        }
        let orig = Tensor::read_npy(&case.path(file)).unwrap();
        for i in [
            rng.random_range(0..g.data().len()),
            rng.random_range(0..g.data().len()),
        ] {
            probe(format!("{file}[{i}]"), g.data()[i], &|delta| {
                let mut d = orig.data().to_vec();
                d[i] += delta;
                Tensor::new(orig.shape().to_vec(), d)
                    .unwrap()
                    .write_npy(&case.path(file))
                    .unwrap();
            });
        }
    }
    eprintln!(
        "{name}: worst finite-difference error {:.2e} of the largest gradient ({})",
        worst.0, worst.1
    );
    assert!(worst.0 <= FD_TOLERANCE, "{name}: {}", worst.1);
}

#[test]
fn grad_matches_finite_differences_of_run() {
    common::gpu().expect("a GPU");
    for name in [
        "pt_proj_two_layer_bidir_lens",
        "onnx_peepholes_bidir_lens",
        "onnx_layout1_peepholes_clip_forget",
        "onnx_activations_elu_softplus_tanh",
        "onnx_reverse_lens",
        "torch_gru_2layer_bidir_lens",
        "onnx_gru_lbr0_bidir_lens",
        "onnx_rnn_bidir_lens_clip",
        "torch_rnn_relu_2layer_bidir_batch_first",
    ] {
        check(name, &Case::from_golden(name));
    }
}

#[test]
fn grad_keeps_the_key_prefix_and_zero_initial_state() {
    common::gpu().expect("a GPU");
    let config = LstmConfig {
        input_size: 3,
        hidden_size: 5,
        num_layers: 2,
        direction: Direction::Bidirectional,
        ..LstmConfig::default()
    };
    let weights = LstmWeights::random(&config, 4).unwrap();
    let case = Case {
        dir: tempfile::tempdir().unwrap(),
        flags: vec![],
        has_c: true,
    };
    std::fs::write(
        case.path("weights.safetensors"),
        weights
            .to_safetensors_prefixed(Convention::PyTorch, "model.lstm.")
            .unwrap(),
    )
    .unwrap();
    common::random_tensor(vec![6, 2, 3], 1.0, 3)
        .write_npy(&case.path("x.npy"))
        .unwrap();
    check("prefixed, no initial state", &case);
    let (_, inputs) = case.grad("gpu", &case.run());
    assert_eq!(
        (inputs[1].shape(), inputs[2].shape()),
        (&[4, 2, 5][..], &[4, 2, 5][..])
    );
}

#[test]
fn bad_grad_input_gets_one_line_and_no_output() {
    let case = Case::from_golden("onnx_bidir_lens");
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("g");
    let y = case.run();
    Tensor::zeros(vec![1, 2, 3])
        .unwrap()
        .write_npy(&case.path("bad.npy"))
        .unwrap();
    y[0].write_npy(&case.path("dy.npy")).unwrap();
    let dy = case.path("dy.npy").display().to_string();
    let bad = case.path("bad.npy").display().to_string();
    for (extra, needle) in [
        (vec!["--dy".to_string(), bad.clone()], "--dy"),
        (
            vec!["--dy".into(), dy.clone(), "--dh-n".into(), bad.clone()],
            "--dh-n",
        ),
        (vec!["--dy".into(), dy.clone(), "--dc-n".into(), bad], "--dc-n"),
        (vec!["--dy".into(), "/nonexistent/dy.npy".into()], "dy.npy"),
        (
            vec!["--dy".into(), dy, "--weights-precision".into(), "f16".into()],
            "f16",
        ),
    ] {
        let o = bin()
            .arg("grad")
            .args(case.args())
            .args(&extra)
            .arg("--out")
            .arg(&target)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{extra:?} succeeded");
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{extra:?}: {err}");
        assert!(!target.exists(), "{extra:?} left output");
    }
    // A GRU has no cell state, so no dL/dc_n.
    let gru = Case::from_golden("torch_gru_2layer_bidir_lens");
    gru.run()[0].write_npy(&gru.path("dy.npy")).unwrap();
    let o = bin()
        .arg("grad")
        .args(gru.args())
        .args(["--dy", &gru.path("dy.npy").display().to_string()])
        .args(["--dc-n", &gru.path("dy.npy").display().to_string(), "--out"])
        .arg(&target)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--dc-n") && err.contains("no cell state"),
        "{err}"
    );
    assert!(!target.exists(), "--dc-n on a GRU left output");
}

#[test]
fn train_demo_solves_a_short_adding_problem_and_plots_it() {
    common::gpu().expect("a GPU");
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("curve.svg");
    let o = bin()
        .args(["train-demo", "--seq-len", "8", "--max-steps", "600", "--plot"])
        .arg(&plot)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("solved in"), "{out}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.contains("<svg") && svg.contains("held-out MSE"), "{svg}");
    let o = bin().args(["train-demo", "--seq-len", "0"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--seq-len") && err.trim().lines().count() == 1,
        "{err}"
    );
}

#[test]
fn bench_train_times_steps_and_checks_the_gradients() {
    common::gpu().expect("a GPU");
    let o = bin()
        .args([
            "bench", "--train", "--batch", "3", "--seq", "7", "--input", "5", "--hidden", "9",
        ])
        .args(["--layers", "2", "--bidirectional", "--reps", "2", "--warmup", "1"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    let row = out.lines().find(|l| l.starts_with("B3 T7 I5 H9 L2")).expect(&out);
    // Forward: 2 layers × (2 GEMMs + 2 transposes + 1 sequence kernel); backward: 2 × (1 + 2 × 5);
    // Adam: norm and update.
    assert!(row.contains(" 10/1/1 ") && row.contains(" 22/1/0 "), "{row}");
    let err: f64 = row.split_whitespace().last().unwrap().parse().unwrap();
    assert!(err < 1e-5, "{row}");
}
