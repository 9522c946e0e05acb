//! Randomized GPU-vs-CPU conformance, shared by `wgpu-lstm conform` and the test suite. A case
//! is a configuration, a shape and a seed; running it makes random weights (round-tripped
//! through its convention's `.safetensors` form), inputs, initial state and lengths, runs the
//! GPU engine and the CPU reference, and returns the worst absolute difference.

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::activation::{Activation, ActivationKind};
use crate::config::{Direction, Layout, LstmConfig, Precision};
use crate::convention::Convention;
use crate::cpu::CpuLstm;
use crate::error::Result;
use crate::forward::{LstmForward, Output, State};
use crate::gpu::{Lstm, PipelineCache, Variants};
use crate::tensor::Tensor;
use crate::weights::LstmWeights;

/// One conformance case.
#[derive(Clone, Debug)]
pub struct ConformCase {
    /// The weights go through this convention's file form before use.
    pub convention: Convention,
    pub config: LstmConfig,
    pub batch: usize,
    pub seq_len: usize,
    /// Random nonzero h0/c0 instead of zeros.
    pub initial_state: bool,
    /// Random per-sequence lengths (one sequence always full length).
    pub seq_lens: bool,
    /// Seed of the weights and data.
    pub seed: u64,
}

/// Gate (f) activations with |f| ≤ 1, so the cell cannot grow geometrically; with input_forget
/// (f = 1 − i) only the first two, which stay in [0, 1].
const GATE_ACTIVATIONS: [ActivationKind; 5] = [
    ActivationKind::Sigmoid,
    ActivationKind::HardSigmoid,
    ActivationKind::Tanh,
    ActivationKind::Softsign,
    ActivationKind::ScaledTanh,
];

/// A random activation from `kinds`, with random parameters where it takes them.
pub fn random_activation(rng: &mut StdRng, kinds: &[ActivationKind]) -> Activation {
    let kind = kinds[rng.random_range(0..kinds.len())];
    let alpha = kind.takes_alpha().then(|| rng.random_range(0.2f32..1.0));
    let beta = kind.takes_beta().then(|| rng.random_range(-0.3f32..0.3));
    Activation::new(kind, alpha, beta).expect("parameters given")
}

/// Random (f, g, h) for each direction of `config`.
pub fn random_activations(rng: &mut StdRng, config: &LstmConfig) -> Vec<Activation> {
    let gates = if config.input_forget {
        &GATE_ACTIVATIONS[..2]
    } else {
        &GATE_ACTIVATIONS[..]
    };
    (0..config.num_directions())
        .flat_map(|_| {
            [
                random_activation(rng, gates),
                random_activation(rng, &ActivationKind::ALL),
                random_activation(rng, &ActivationKind::ALL),
            ]
        })
        .collect()
}

/// A size in 1..=max that is not a multiple of 16 (so never of a workgroup size) unless 1.
fn irregular(rng: &mut StdRng, max: usize) -> usize {
    let v = rng.random_range(1..=max);
    if v % 16 == 0 {
        v - 1
    } else {
        v
    }
}

impl ConformCase {
    /// A random case over the whole feature grid, kept small enough for a software adapter.
    pub fn random(seed: u64) -> ConformCase {
        let mut rng = StdRng::seed_from_u64(seed);
        let convention = if rng.random_bool(0.5) {
            Convention::PyTorch
        } else {
            Convention::Onnx
        };
        let mut config = LstmConfig {
            input_size: irregular(&mut rng, 300),
            hidden_size: irregular(&mut rng, 200),
            num_layers: if convention == Convention::PyTorch {
                rng.random_range(1..=3)
            } else {
                1
            },
            direction: [Direction::Forward, Direction::Reverse, Direction::Bidirectional]
                [rng.random_range(0..3)],
            bias: rng.random_bool(0.8),
            layout: if rng.random_bool(0.5) {
                Layout::SeqMajor
            } else {
                Layout::BatchMajor
            },
            ..LstmConfig::default()
        };
        let h = config.hidden_size;
        if convention == Convention::PyTorch && h > 1 && rng.random_bool(0.3) {
            config.proj_size = Some(rng.random_range(1..h));
        }
        config.peepholes = convention == Convention::Onnx && rng.random_bool(0.4);
        config.clip = rng.random_bool(0.3).then(|| rng.random_range(0.5f32..5.0));
        config.input_forget = rng.random_bool(0.2);
        if rng.random_bool(0.35) {
            config.activations = random_activations(&mut rng, &config);
        }
        if rng.random_bool(0.2) {
            config.weights_precision = Precision::F16;
        }
        let mut case = ConformCase {
            convention,
            config,
            batch: irregular(&mut rng, 20),
            seq_len: rng.random_range(1..=40),
            initial_state: rng.random_bool(0.6),
            seq_lens: rng.random_bool(0.5),
            seed,
        };
        while case.macs() > 200_000_000 {
            if case.batch > 1 {
                case.batch = case.batch.div_ceil(2);
            } else {
                case.seq_len = case.seq_len.div_ceil(2);
            }
        }
        case
    }

    /// Multiply-adds of one forward, the cost of the CPU reference.
    pub fn macs(&self) -> usize {
        let cfg = &self.config;
        let (h, p) = (cfg.hidden_size, cfg.output_size());
        (0..cfg.num_layers)
            .map(|l| {
                cfg.num_directions()
                    * self.batch
                    * self.seq_len
                    * (4 * h * (cfg.layer_input_size(l) + p) + p * h)
            })
            .sum()
    }

    /// One line: convention, shape and every option that is on.
    pub fn describe(&self) -> String {
        let c = &self.config;
        let mut s = format!(
            "{} B={} T={} I={} H={} L={} {:?} {:?}",
            self.convention,
            self.batch,
            self.seq_len,
            c.input_size,
            c.hidden_size,
            c.num_layers,
            c.direction,
            c.layout
        );
        for (on, what) in [
            (!c.bias, "no-bias".to_string()),
            (self.initial_state, "h0/c0".into()),
            (self.seq_lens, "seq_lens".into()),
            (c.peepholes, "peepholes".into()),
            (c.weights_precision == Precision::F16, "f16-weights".into()),
            (c.input_forget, "input_forget".into()),
            (
                c.proj_size.is_some(),
                format!("proj={}", c.proj_size.unwrap_or(0)),
            ),
            (c.clip.is_some(), format!("clip={:.3}", c.clip.unwrap_or(0.0))),
            (
                !c.activations.is_empty(),
                format!(
                    "acts=[{}]",
                    c.activations
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
        ] {
            if on {
                s.push(' ');
                s.push_str(&what);
            }
        }
        s
    }

    /// Run on the GPU (autotuned kernels, or `variants`) and the CPU; the worst absolute
    /// difference over y, h_n and c_n.
    pub fn run(&self, cache: &PipelineCache, queue: &wgpu::Queue, variants: Option<Variants>) -> Result<f32> {
        let random = LstmWeights::random(&self.config, self.seed)?;
        let (loaded, _) =
            LstmWeights::from_safetensors(&random.to_safetensors(self.convention)?, Some(self.convention))?;
        // Files do not say "reverse" for one direction; the caller does.
        let weights = loaded.with_direction(self.config.direction)?;
        self.run_with_weights(cache, queue, variants, &weights)
    }

    /// [`ConformCase::run`] with the given weights instead of the case's random ones through its
    /// convention's file form (for combinations no file convention holds, such as peepholes in a
    /// stack).
    pub fn run_with_weights(
        &self,
        cache: &PipelineCache,
        queue: &wgpu::Queue,
        variants: Option<Variants>,
        weights: &LstmWeights,
    ) -> Result<f32> {
        let cfg = &self.config;
        let (t, b) = (self.seq_len, self.batch);
        let shape = match cfg.layout {
            Layout::SeqMajor => vec![t, b, cfg.input_size],
            Layout::BatchMajor => vec![b, t, cfg.input_size],
        };
        let input = random_tensor(shape, 1.0, self.seed + 1);
        let initial = self.initial_state.then(|| {
            let (slots, p, h) = (
                cfg.num_layers * cfg.num_directions(),
                cfg.output_size(),
                cfg.hidden_size,
            );
            State {
                h: random_tensor(vec![slots, b, p], 1.0, self.seed + 2),
                c: random_tensor(vec![slots, b, h], 1.0, self.seed + 3),
            }
        });
        let lens = self.seq_lens.then(|| {
            let mut rng = StdRng::seed_from_u64(self.seed + 4);
            let mut lens: Vec<usize> = (0..b).map(|_| rng.random_range(1..=t)).collect();
            lens[0] = t;
            lens
        });
        // Both engines through the trait they share.
        fn run<E: LstmForward>(
            engine: &E,
            x: &Tensor,
            s: Option<&State>,
            l: Option<&[usize]>,
        ) -> Result<Output> {
            engine.forward_with_lens(x, s, l)
        }
        let gpu = Lstm::with_variants(cache, queue, cfg, weights, variants)?;
        let got = run(&gpu, &input, initial.as_ref(), lens.as_deref())?;
        let expected = run(
            &CpuLstm::new(cfg, weights)?,
            &input,
            initial.as_ref(),
            lens.as_deref(),
        )?;
        Ok(got.max_abs_diff(&expected).unwrap_or(f32::INFINITY))
    }
}

/// Uniform values in [-scale, scale] from a seed.
pub fn random_tensor(shape: Vec<usize>, scale: f32, seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    Tensor::new(shape, (0..n).map(|_| rng.random_range(-scale..=scale)).collect()).expect("sized")
}
