//! Training in conformance: the GPU backward against the float64 CPU backward, tensor by tensor
//! under [`ErrorBound::for_gradient`], over [`TRAIN_STRATA`], which together dispatch every
//! training kernel of the registry; the CPU backward against central finite differences
//! ([`finite_differences`]); and the optimizers against a float64 formula (`optimizer.rs`).

use super::*;
use crate::backend::gpu::TrainKernels;
use crate::train::cpu::fd::{self, FdCheck};
use crate::train::{Gradients, ParamLayout};

/// The training cases every default conformance run checks, each with what it makes sure of.
/// Together they run both sequence-kernel groupings (one sequence per workgroup below a batch of
/// 8, groups of 8 from there) of every cell, both GEMMs (tiled where every side is at least 64,
/// direct otherwise), the transposes, and (through the optimizer check) the norm and the update.
pub const TRAIN_STRATA: [(&str, &str); 9] = [
    (
        "train-single-direct",
        "B < 8 (one sequence per workgroup), short GEMM sides (direct), 2 bidirectional layers, \
         lengths, h0/c0 and dh_n/dc_n",
    ),
    (
        "train-grouped-tiled",
        "B ≥ 8 with a partial group, I, H and T·B ≥ 64 (tiled GEMMs, units beyond one workgroup), \
         bidirectional",
    ),
    (
        "train-projection-peepholes",
        "projection, peepholes, clip and input_forget in a reversed batch-major stack, groups of 8 \
         and a partial one",
    ),
    (
        "train-activations",
        "every direction with its own random activations and parameters",
    ),
    (
        "train-long",
        "B = 1 over 100 steps: the gate gradients' error accumulates through time",
    ),
    (
        "train-gru-single",
        "a GRU with linear_before_reset, B < 8, 2 bidirectional layers, lengths, h0 and dh_n",
    ),
    (
        "train-gru-grouped",
        "a GRU without linear_before_reset (the second phase after r), B ≥ 8 with a partial \
         group, H beyond one workgroup, clip",
    ),
    (
        "train-rnn-single",
        "an RNN with random activations per direction, B < 8, 2 bidirectional layers",
    ),
    (
        "train-rnn-grouped",
        "an RNN, B ≥ 8 with a partial group, reverse, clip, batch-major",
    ),
];

/// One training case: a model, a shape and a seed; the loss is L = Σ dy⊙y (+ Σ dh_n⊙h_n +
/// Σ dc_n⊙c_n) for random dy (dh_n, dc_n).
#[derive(Clone, Debug)]
pub struct TrainCase {
    pub config: LstmConfig,
    pub batch: usize,
    pub seq_len: usize,
    pub initial_state: bool,
    pub seq_lens: bool,
    /// Random dL/dh_n and dL/dc_n as well as dL/dy.
    pub state_grads: bool,
    pub seed: u64,
}

impl TrainCase {
    /// The case of `TRAIN_STRATA[index]`, its free choices drawn from `seed`.
    pub fn stratum(index: usize, seed: u64) -> TrainCase {
        let mut rng = StdRng::seed_from_u64(seed);
        let rng = &mut rng;
        let config = |input: usize, hidden: usize, layers: usize, direction: Direction| LstmConfig {
            input_size: input,
            hidden_size: hidden,
            num_layers: layers,
            direction,
            ..LstmConfig::default()
        };
        let mut case = TrainCase {
            config: config(
                irregular_in(rng, 3, 20),
                irregular_in(rng, 3, 30),
                1,
                Direction::Forward,
            ),
            batch: irregular_in(rng, 2, 7),
            seq_len: rng.random_range(5..=14),
            initial_state: true,
            seq_lens: true,
            state_grads: true,
            seed,
        };
        let cfg = &mut case.config;
        let name = TRAIN_STRATA[index].0;
        match name {
            "train-single-direct" => {
                cfg.num_layers = 2;
                cfg.direction = Direction::Bidirectional;
                cfg.layout = random_layout(rng);
            }
            "train-grouped-tiled" => {
                cfg.input_size = irregular_in(rng, 65, 90);
                cfg.hidden_size = irregular_in(rng, 65, 80);
                cfg.num_layers = 2;
                // The second direction's dx adds to the first's in a tiled GEMM.
                cfg.direction = Direction::Bidirectional;
                // Every side at least 64: the rows too (T·B ≥ 8·9).
                case.batch = irregular_in(rng, 9, 15);
                case.seq_len = rng.random_range(8..=14);
                case.initial_state = rng.random_bool(0.5);
            }
            "train-projection-peepholes" => {
                cfg.num_layers = 2;
                cfg.direction = Direction::Reverse;
                cfg.layout = Layout::BatchMajor;
                // Units and projected values beyond a SIMD lane group of 8 or 16, so that the
                // projection's reads race where a barrier is missing.
                cfg.hidden_size = irregular_in(rng, 20, 40);
                cfg.proj_size = Some(rng.random_range(17..cfg.hidden_size));
                cfg.peepholes = true;
                cfg.clip = Some(rng.random_range(0.5f32..1.5));
                cfg.input_forget = true;
                cfg.bias = rng.random_bool(0.5);
                // A full group of 8 and a partial one.
                case.batch = irregular_in(rng, 9, 15);
            }
            "train-activations" => {
                cfg.direction = Direction::Bidirectional;
                while (0..3).any(|i| cfg.activations_of(0)[i] == cfg.activations_of(1)[i]) {
                    cfg.activations = random_activations(rng, cfg);
                }
            }
            "train-long" => {
                case.batch = 1;
                case.seq_len = 100;
                case.seq_lens = false;
            }
            "train-gru-single" | "train-rnn-single" => {
                cfg.cell = if name.starts_with("train-gru") {
                    Cell::Gru
                } else {
                    Cell::Rnn
                };
                cfg.linear_before_reset = cfg.cell == Cell::Gru;
                cfg.num_layers = 2;
                cfg.direction = Direction::Bidirectional;
                cfg.layout = random_layout(rng);
                if cfg.cell == Cell::Rnn {
                    cfg.activations = random_activations(rng, cfg);
                }
            }
            "train-gru-grouped" | "train-rnn-grouped" => {
                cfg.cell = if name.starts_with("train-gru") {
                    Cell::Gru
                } else {
                    Cell::Rnn
                };
                // Units beyond one 64-wide workgroup.
                cfg.hidden_size = irregular_in(rng, 65, 80);
                cfg.direction = Direction::Reverse;
                cfg.layout = Layout::BatchMajor;
                cfg.clip = Some(rng.random_range(0.5f32..1.5));
                cfg.bias = rng.random_bool(0.5);
                case.batch = irregular_in(rng, 9, 15);
            }
            other => unreachable!("no training stratum {other}"),
        }
        case
    }

    pub fn dims(&self) -> Dims {
        Dims {
            seq_len: self.seq_len,
            batch: self.batch,
        }
    }

    /// The forward case of the same model, shape and inputs (weights used as made).
    fn forward_case(&self) -> ConformCase {
        ConformCase {
            convention: None,
            config: self.config.clone(),
            batch: self.batch,
            seq_len: self.seq_len,
            initial_state: self.initial_state,
            seq_lens: self.seq_lens,
            seed: self.seed,
            pooled: false,
        }
    }

    /// One line, as [`ConformCase::describe`] writes it.
    pub fn describe(&self) -> String {
        let mut s = self.forward_case().describe();
        if self.state_grads {
            s.push_str(if self.config.cell.has_cell_state() {
                " dh_n/dc_n"
            } else {
                " dh_n"
            });
        }
        s
    }

    /// Make the weights, inputs and output gradients, and run the float64 CPU backward.
    pub fn prepare(&self) -> Result<TrainPrepared> {
        let cfg = &self.config;
        let weights = LstmWeights::random(cfg, self.seed)?;
        let (input, initial, lens) = self.forward_case().inputs()?;
        let cpu = CpuLstm::new(cfg, &weights)?;
        let (out, tape) = cpu.forward_train(&input, initial.as_ref(), lens.as_deref())?;
        let dy = Tensor::random(out.y.shape().to_vec(), 1.0, self.seed + 5)?;
        let (dh_n, dc_n) = if self.state_grads {
            (
                Some(Tensor::random(out.h_n.shape().to_vec(), 1.0, self.seed + 6)?),
                Some(Tensor::random(out.c_n.shape().to_vec(), 1.0, self.seed + 7)?),
            )
        } else {
            (None, None)
        };
        let expected = cpu.backward(&tape, &dy, dh_n.as_ref(), dc_n.as_ref())?;
        Ok(TrainPrepared {
            case: self.clone(),
            weights,
            input,
            initial,
            lens,
            dy,
            dh_n,
            dc_n,
            expected,
        })
    }
}

/// A training case with its inputs and the CPU backward's gradients.
pub struct TrainPrepared {
    pub case: TrainCase,
    pub(super) weights: LstmWeights,
    pub(super) input: Tensor,
    pub(super) initial: Option<State>,
    pub(super) lens: Option<Vec<usize>>,
    pub(super) dy: Tensor,
    pub(super) dh_n: Option<Tensor>,
    pub(super) dc_n: Option<Tensor>,
    pub(super) expected: Gradients,
}

/// One gradient tensor compared with the reference.
#[derive(Clone, Debug)]
pub struct TensorCheck {
    /// `l0.d1.w_hh`, `dx`, `dh0`, …
    pub name: String,
    pub comparison: Comparison,
}

/// A GPU backward of a case against the reference, tensor by tensor.
#[derive(Clone, Debug)]
pub struct TrainCheck {
    /// The training kernels the forward and backward dispatched.
    pub kernels: TrainKernels,
    pub tensors: Vec<TensorCheck>,
}

impl TrainCheck {
    pub fn passed(&self) -> bool {
        self.tensors.iter().all(|t| t.comparison.passed())
    }

    /// The tensor nearest to (or furthest beyond) its bound.
    pub fn worst(&self) -> Option<&TensorCheck> {
        self.tensors
            .iter()
            .max_by(|a, b| a.comparison.worst_ratio.total_cmp(&b.comparison.worst_ratio))
    }
}

/// Each weight tensor of `config` in `layout`'s flat array ([`ParamLayout::named`]), with the
/// number of products each of its gradient's elements sums (every row of every step).
fn weight_tensors(
    config: &LstmConfig,
    layout: &ParamLayout,
    rows: usize,
) -> Vec<(String, std::ops::Range<usize>, usize)> {
    layout
        .named(config)
        .into_iter()
        .map(|(name, range)| (name, range, rows))
        .collect()
}

fn rms(values: &[f32]) -> f32 {
    let sum: f64 = values.iter().map(|&v| v as f64 * v as f64).sum();
    (sum / values.len().max(1) as f64).sqrt() as f32
}

/// Compare `got` with `want` gradient tensor by gradient tensor, each under its own
/// [`ErrorBound::for_gradient`].
pub fn compare_gradients(
    config: &LstmConfig,
    dims: Dims,
    got: &Gradients,
    want: &Gradients,
) -> Result<Vec<TensorCheck>> {
    let layout = ParamLayout::new(config)?;
    let (g, w) = (layout.flatten(&got.weights), layout.flatten(&want.weights));
    let rows = dims.seq_len * dims.batch;
    let gates = config.gates() * config.hidden_size;
    let mut parts: Vec<(String, Tensor, Tensor, usize)> = Vec::new();
    for (name, range, terms) in weight_tensors(config, &layout, rows) {
        let tensor = |v: &[f32]| Tensor::new(vec![range.len()], v[range.clone()].to_vec());
        parts.push((name, tensor(&g)?, tensor(&w)?, terms));
    }
    // dx sums the gates of every direction of layer 0; dh0 a recurrent product over the gates
    // (and the projection); dc0 (an LSTM's) one product.
    parts.push((
        "dx".into(),
        got.dx.clone(),
        want.dx.clone(),
        config.num_directions() * gates,
    ));
    parts.push((
        "dh0".into(),
        got.dh0.clone(),
        want.dh0.clone(),
        gates + config.hidden_size,
    ));
    if config.cell.has_cell_state() {
        parts.push(("dc0".into(), got.dc0.clone(), want.dc0.clone(), 1));
    }
    parts
        .into_iter()
        .map(|(name, got, want, terms)| {
            let bound = ErrorBound::for_gradient(config, dims, terms, rms(want.data()));
            Ok(TensorCheck {
                comparison: Comparison::of_tensor("gradient", &got, &want, bound)?,
                name,
            })
        })
        .collect()
}

impl TrainPrepared {
    /// The float64 CPU backward's gradients.
    pub fn expected(&self) -> &Gradients {
        &self.expected
    }

    /// The GPU forward and backward of the case, compared with the reference.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run(&self, cache: &PipelineCache, queue: &wgpu::Queue) -> Result<TrainCheck> {
        let model = crate::gpu::TrainLstm::with_cache(cache, queue, &self.case.config, &self.weights)?;
        let (_, tape) = model.forward_train(&self.input, self.initial.as_ref(), self.lens.as_deref())?;
        let got = model.backward(&tape, &self.dy, self.dh_n.as_ref(), self.dc_n.as_ref())?;
        Ok(TrainCheck {
            kernels: model.last_stats().kernels,
            tensors: compare_gradients(&self.case.config, self.case.dims(), &got, &self.expected)?,
        })
    }
}

/// The small cases whose CPU backward conformance checks against finite differences.
pub fn finite_difference_cases(seed: u64) -> Vec<TrainCase> {
    [0, 2, 3, 5, 6, 7]
        .into_iter()
        .map(|i| {
            let mut case = TrainCase::stratum(i, seed + i as u64);
            let cfg = &mut case.config;
            (cfg.input_size, cfg.hidden_size, case.batch, case.seq_len) = (3, 4, 3, 4);
            if let Some(p) = &mut cfg.proj_size {
                *p = (*p).min(3);
            }
            case
        })
        .collect()
}

/// Check the case's CPU backward against central finite differences of its f64 forward, for
/// every weight, input and initial-state value (`train::cpu::fd`).
pub fn finite_differences(case: &TrainCase) -> Result<FdCheck> {
    let cfg = &case.config;
    let prepared = case.prepare()?;
    let layout = ParamLayout::new(cfg)?;
    let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let ld = cfg.num_layers * cfg.num_directions() * case.batch;
    let (h0, c0) = match &prepared.initial {
        Some(s) => (f64s(s.h.data()), f64s(s.c.data())),
        None => (
            vec![0.0; ld * cfg.output_size()],
            vec![0.0; ld * cfg.cell_state_size()],
        ),
    };
    let zeros = |n| vec![0.0; n];
    let dh_n = prepared
        .dh_n
        .as_ref()
        .map_or_else(|| zeros(h0.len()), |t| f64s(t.data()));
    let dc_n = prepared
        .dc_n
        .as_ref()
        .map_or_else(|| zeros(c0.len()), |t| f64s(t.data()));
    Ok(fd::check(
        cfg,
        &layout,
        fd::Point {
            params: f64s(&layout.flatten(&prepared.weights)),
            x: f64s(prepared.input.data()),
            h0,
            c0,
            dy: f64s(prepared.dy.data()),
            dh_n,
            dc_n,
        },
        case.dims(),
        prepared.lens.as_deref(),
    ))
}

/// The training kernels a default conformance run must see dispatched: all of them.
pub fn required_train_kernels() -> TrainKernels {
    TrainKernels::all()
}
