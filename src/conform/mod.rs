//! GPU-vs-CPU conformance, shared by `wgpu-lstm conform` and the test suite.
//!
//! A [`ConformCase`] is a configuration, a shape and a seed. [`ConformCase::prepare`] makes its
//! random weights (round-tripped through its convention's `.safetensors` form), inputs, initial
//! state and lengths and runs the CPU reference once; [`Prepared::run`] then runs the GPU engine
//! with the autotuned kernels or with given ones and compares element by element under the
//! case's [`ErrorBound`]. [`Prepared::variants`] lists every combination of kernels the engine
//! could run the case with, and [`suite`] builds a run: one case of each named [`STRATA`] entry,
//! cases at the caller's shapes, then random cases.

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::activation::{Activation, ActivationKind};
use crate::backend::cpu::CpuLstm;
use crate::backend::gpu::{Lstm, PipelineCache, Variants};
use crate::cell::Cell;
use crate::config::{Direction, Layout, LstmConfig, Precision};
use crate::convention::Convention;
use crate::error::{Error, Result};
use crate::error_model::{Comparison, ErrorBound};
use crate::forward::{Dims, Output, State};
use crate::tensor::Tensor;
use crate::weights::LstmWeights;

#[cfg(not(target_arch = "wasm32"))]
mod optimizer;
mod pooled;
mod random;
mod run;
mod strata;
mod train;
#[cfg(not(target_arch = "wasm32"))]
mod training;

pub use crate::train::cpu::fd::{FdCheck, FD_STEP, FD_TOLERANCE};
#[cfg(not(target_arch = "wasm32"))]
pub use optimizer::{check_optimizer, optimizer_cases, OptimizerCheck, OPTIMIZER_ROUNDOFFS, OPTIMIZER_STEPS};
use random::random_activation;
pub use random::random_activations;
use random::{irregular, irregular_in, random_layout, with_random_parameters, GATE_ACTIVATIONS};
pub use run::{ran_as_forced, Check, Kernels, Prepared, Verdict};
pub use strata::STRATA;
pub use train::{
    compare_gradients, finite_difference_cases, finite_differences, required_train_kernels, TensorCheck,
    TrainCase, TrainCheck, TrainPrepared, TRAIN_STRATA,
};
#[cfg(not(target_arch = "wasm32"))]
pub use training::{run_training, TrainingCheck};

/// One conformance case.
#[derive(Clone, Debug)]
pub struct ConformCase {
    /// The weights go through this convention's file form before use; `None` uses them as made,
    /// for combinations no file convention holds (peepholes in a stack).
    pub convention: Option<Convention>,
    pub config: LstmConfig,
    pub batch: usize,
    pub seq_len: usize,
    /// Random nonzero h0/c0 instead of zeros.
    pub initial_state: bool,
    /// Random per-sequence lengths (one sequence always full length).
    pub seq_lens: bool,
    /// Seed of the weights and data.
    pub seed: u64,
    /// Run on the GPU as the streams of a [`StreamPool`](crate::StreamPool), scattered among
    /// idle ones and moved by the pool's index kernel (unidirectional models only).
    pub pooled: bool,
}

/// The random cases' cost cap: the CPU reference's multiply-adds.
const MAX_RANDOM_MACS: usize = 200_000_000;

/// Where a case of a [`suite`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `STRATA[i]`.
    Stratum(usize),
    /// A shape the caller asked for.
    Shape,
    Random,
    /// A random case of a cell other than the LSTM.
    Cell(Cell),
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Stratum(i) => STRATA[i].0,
            Origin::Shape => "shape",
            Origin::Cell(cell) => cell.name(),
            Origin::Random => "random",
        }
    }
}

/// A production shape to check: B, T, I, H and L.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseShape {
    pub batch: usize,
    pub seq_len: usize,
    pub input_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
}

impl std::str::FromStr for CaseShape {
    type Err = Error;

    /// `B,T,I,H` or `B,T,I,H,L`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "--shape",
                format!("{s:?} is not B,T,I,H[,L] of positive integers"),
            )
        };
        let v: Vec<usize> = s
            .split(',')
            .map(|p| p.trim().parse::<usize>().ok().filter(|&n| n > 0))
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        match v[..] {
            [batch, seq_len, input_size, hidden_size] | [batch, seq_len, input_size, hidden_size, _] => {
                Ok(CaseShape {
                    batch,
                    seq_len,
                    input_size,
                    hidden_size,
                    num_layers: v.get(4).copied().unwrap_or(1),
                })
            }
            _ => Err(bad()),
        }
    }
}

/// Random cases of each cell other than the LSTM in every run.
pub const CELL_CASES: usize = 3;

/// A conformance run's cases: one of each of [`STRATA`], one per shape in `shapes`,
/// [`CELL_CASES`] random cases of the GRU and of the RNN, then random LSTM cases until there are `cases` in
/// all (the strata, cells and shapes are always there). Case k has seed `seed + k`, so `seed`
/// and k name it.
pub fn suite(cases: usize, seed: u64, shapes: &[CaseShape]) -> Result<Vec<(Origin, ConformCase)>> {
    let mut out: Vec<(Origin, ConformCase)> = Vec::new();
    let next_seed = |out: &Vec<(Origin, ConformCase)>| seed + out.len() as u64;
    for i in 0..STRATA.len() {
        let case = ConformCase::stratum(i, next_seed(&out));
        out.push((Origin::Stratum(i), case));
    }
    for shape in shapes {
        let case = ConformCase::at_shape(*shape, next_seed(&out))?;
        out.push((Origin::Shape, case));
    }
    for cell in [Cell::Gru, Cell::Rnn] {
        for _ in 0..CELL_CASES {
            let case = ConformCase::random_of(cell, next_seed(&out));
            out.push((Origin::Cell(cell), case));
        }
    }
    while out.len() < cases {
        let case = ConformCase::random(next_seed(&out));
        out.push((Origin::Random, case));
    }
    Ok(out)
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
            layout: random_layout(&mut rng),
            ..LstmConfig::default()
        };
        let h = config.hidden_size;
        if convention == Convention::PyTorch && h > 1 && rng.random_bool(0.3) {
            config.proj_size = Some(rng.random_range(1..h));
        }
        // Peepholes come with ONNX's one layer, or in a stack with weights used as made.
        config.peepholes = rng.random_bool(if convention == Convention::Onnx { 0.4 } else { 0.15 });
        config.clip = rng.random_bool(0.3).then(|| rng.random_range(0.5f32..5.0));
        config.input_forget = rng.random_bool(0.2);
        if rng.random_bool(0.35) {
            config.activations = random_activations(&mut rng, &config);
        }
        if rng.random_bool(0.2) {
            config.weights_precision = Precision::F16;
        }
        let mut case = ConformCase {
            convention: (!(config.peepholes && convention == Convention::PyTorch)).then_some(convention),
            config,
            batch: irregular(&mut rng, 20),
            seq_len: rng.random_range(1..=40),
            initial_state: rng.random_bool(0.6),
            seq_lens: rng.random_bool(0.5),
            seed,
            pooled: false,
        };
        case.shrink_to(MAX_RANDOM_MACS);
        case
    }

    /// A random case of `cell` (a GRU with either linear_before_reset): [`ConformCase::random`]'s
    /// grid without the LSTM's own options, H at most 130 so that the register-resident
    /// sequence kernel can run it.
    pub fn random_of(cell: Cell, seed: u64) -> ConformCase {
        let mut case = ConformCase::random(seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37_79b9);
        // Without peepholes, weights used as made go through nn's files.
        if case.convention.is_none() {
            case.convention = Some(Convention::PyTorch);
        }
        let config = &mut case.config;
        config.cell = cell;
        // nn.GRU's files hold linear_before_reset = 1 only.
        config.linear_before_reset =
            cell == Cell::Gru && (case.convention == Some(Convention::PyTorch) || rng.random_bool(0.5));
        config.proj_size = None;
        config.peepholes = false;
        config.input_forget = false;
        config.hidden_size = irregular(&mut rng, 130);
        config.activations = if rng.random_bool(0.4) {
            random_activations(&mut rng, config)
        } else {
            Vec::new()
        };
        case.shrink_to(MAX_RANDOM_MACS);
        case
    }

    /// Halve B, then T, until one forward costs at most `macs` multiply-adds.
    fn shrink_to(&mut self, macs: usize) {
        while self.macs() > macs && (self.batch > 1 || self.seq_len > 1) {
            if self.batch > 1 {
                self.batch = self.batch.div_ceil(2);
            } else {
                self.seq_len = self.seq_len.div_ceil(2);
            }
        }
    }

    /// A plain unidirectional LSTM at a production shape, with a random initial state.
    pub fn at_shape(shape: CaseShape, seed: u64) -> Result<ConformCase> {
        let config = LstmConfig {
            input_size: shape.input_size,
            hidden_size: shape.hidden_size,
            num_layers: shape.num_layers,
            ..LstmConfig::default()
        };
        config.validate()?;
        Ok(ConformCase {
            convention: Some(Convention::PyTorch),
            config,
            batch: shape.batch,
            seq_len: shape.seq_len,
            initial_state: true,
            seq_lens: false,
            seed,
            pooled: false,
        })
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
                    * (cfg.gates() * h * (cfg.layer_input_size(l) + p) + p * h)
            })
            .sum()
    }

    pub fn dims(&self) -> Dims {
        Dims {
            seq_len: self.seq_len,
            batch: self.batch,
        }
    }

    /// One line: convention, shape and every option that is on.
    pub fn describe(&self) -> String {
        let c = &self.config;
        let mut s = format!(
            "{} B={} T={} I={} H={} L={} {:?} {:?}",
            self.convention.map_or("weights-as-made", |c| c.name()),
            self.batch,
            self.seq_len,
            c.input_size,
            c.hidden_size,
            c.num_layers,
            c.direction,
            c.layout
        );
        let initial = if c.cell.has_cell_state() { "h0/c0" } else { "h0" };
        for (on, what) in [
            (c.cell != Cell::Lstm, c.cell.name().to_string()),
            (c.linear_before_reset, "linear_before_reset".into()),
            (!c.bias, "no-bias".to_string()),
            (self.initial_state, initial.into()),
            (self.seq_lens, "seq_lens".into()),
            (self.pooled, "pooled-streams".into()),
            (c.peepholes, "peepholes".into()),
            (
                c.weights_precision != Precision::F32,
                format!("{}-weights", c.weights_precision.name()),
            ),
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

    /// The case's weights as the engines get them: random, through the convention's file form.
    pub fn weights(&self) -> Result<LstmWeights> {
        let random = LstmWeights::random(&self.config, self.seed)?;
        let Some(convention) = self.convention else {
            return Ok(random);
        };
        let (loaded, _) =
            LstmWeights::from_safetensors(&random.to_safetensors(convention)?, Some(convention))?;
        // Files do not say "reverse" for one direction; the caller does.
        loaded.with_direction(self.config.direction)
    }

    /// Make the inputs and run the CPU reference.
    pub fn prepare(&self) -> Result<Prepared> {
        self.prepare_with_weights(self.weights()?)
    }

    /// [`ConformCase::prepare`] with the given weights.
    pub fn prepare_with_weights(&self, weights: LstmWeights) -> Result<Prepared> {
        let cfg = &self.config;
        let (input, initial, lens) = self.inputs()?;
        let expected =
            CpuLstm::new(cfg, &weights)?.forward_with_lens(&input, initial.as_ref(), lens.as_deref())?;
        Ok(Prepared {
            case: self.clone(),
            bound: ErrorBound::for_model(cfg, self.dims()),
            weights,
            input,
            initial,
            lens,
            expected,
        })
    }

    /// The case's input, initial state and lengths, drawn from its seed.
    #[allow(clippy::type_complexity)]
    pub(crate) fn inputs(&self) -> Result<(Tensor, Option<State>, Option<Vec<usize>>)> {
        let cfg = &self.config;
        let (t, b) = (self.seq_len, self.batch);
        let shape = match cfg.layout {
            Layout::SeqMajor => vec![t, b, cfg.input_size],
            Layout::BatchMajor => vec![b, t, cfg.input_size],
        };
        let input = Tensor::random(shape, 1.0, self.seed + 1)?;
        let initial = if self.initial_state {
            let (slots, p, h) = (
                cfg.num_layers * cfg.num_directions(),
                cfg.output_size(),
                cfg.cell_state_size(),
            );
            Some(State {
                h: Tensor::random(vec![slots, b, p], 1.0, self.seed + 2)?,
                c: Tensor::random(vec![slots, b, h], 1.0, self.seed + 3)?,
            })
        } else {
            None
        };
        let lens = self.seq_lens.then(|| {
            let mut rng = StdRng::seed_from_u64(self.seed + 4);
            let mut lens: Vec<usize> = (0..b).map(|_| rng.random_range(1..=t)).collect();
            lens[0] = t;
            lens
        });
        Ok((input, initial, lens))
    }

    /// Prepare and run once: [`Prepared::run`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run(
        &self,
        cache: &PipelineCache,
        queue: &wgpu::Queue,
        variants: Option<Variants>,
    ) -> Result<Check> {
        self.prepare()?.run(cache, queue, variants)
    }
}

#[cfg(test)]
mod tests;
