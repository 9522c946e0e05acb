//! Training: backpropagation through time and the optimizers that use its gradients.
//!
//! - [`Gradients`]: what a backward pass returns (every weight tensor's gradient in the engine's
//!   layout, and dx, dh0, dc0), and how `grad` saves it.
//! - `ParamLayout`: every weight of a model in one flat f32 array, the form the GPU keeps its
//!   trainable weights, gradients and optimizer state in, and the CPU reference its f64 weights.
//! - `cpu`: the float64 reference backward ([`CpuLstm::backward`](crate::CpuLstm::backward)).
//! - `gpu`: training on the GPU ([`TrainLstm`](crate::gpu::TrainLstm),
//!   [`Trainer`](crate::gpu::Trainer)), on the GPU backend's registry, pipelines and limits.
//! - [`optim`]: SGD with momentum and Adam, with clipping by global norm ([`Optimizer`]).
//! - [`adding`]: the adding problem (`train-demo`, `examples/adding_problem.rs`, a test).
//!
//! The loss is whatever the caller makes of the outputs: a backward takes dL/dy, dL/dh_n and
//! dL/dc_n and returns the rest. What the backward supports is every option the forward does
//! except f16 weights ([`check_trainable`]); streaming (`forward_stream`) is inference only.

#[cfg(not(target_arch = "wasm32"))]
pub mod adding;
pub(crate) mod cpu;
pub(crate) mod gpu;
pub mod optim;

use std::ops::Range;
use std::path::Path;

pub use optim::{Optimizer, OptimizerKind};

use crate::cell::Cell;
use crate::config::{LstmConfig, Precision};
use crate::convention::Convention;
use crate::error::{Error, Result};
use crate::files::{replace_dir, Fs};
use crate::forward::{check_input, state_shape, x_shape, y_shape, Dims};
use crate::tensor::Tensor;
use crate::weights::{DirectionWeights, LstmWeights};

/// The files [`Gradients::save`] writes.
pub const GRADIENT_FILES: [&str; 4] = ["grads.safetensors", "dx.npy", "dh0.npy", "dc0.npy"];

/// Refuse what training does not support, naming it: f16 weights (the optimizer's updates are
/// smaller than f16's resolution; train in f32 and round afterwards).
pub fn check_trainable(config: &LstmConfig) -> Result<()> {
    config.validate()?;
    if config.weights_precision != Precision::F32 {
        return Err(Error::invalid(
            format!("weights precision {}", config.weights_precision.name()),
            "training runs on f32 weights only (an optimizer step is often below the resolution \
             of f16 or int8); train in f32 and round the result with LstmWeights::rounded",
        ));
    }
    Ok(())
}

/// Values a training tape keeps per unit and step (and a backward's dgates): the gates' sums, but
/// for the GRU, whose candidate keeps its input and recurrent parts apart, four (z, r,
/// W_n·x + Wb_n, the recurrent part): the cell bodies' `LANES` in `shaders/train/cells/`.
pub(crate) fn lanes(cell: Cell) -> usize {
    match cell {
        Cell::Gru => 4,
        other => other.gates(),
    }
}

/// Gradients of a scalar loss L with respect to everything a forward read.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients {
    /// dL/d(each weight tensor), in the weights' own structure and layout. The input and
    /// recurrent biases enter the gates as a sum, so their gradients are equal.
    pub weights: LstmWeights,
    /// dL/dX, shaped as X.
    pub dx: Tensor,
    /// dL/dh0 `[L·D, B, P]` (zero-initial state included: it is the gradient at h0 = 0).
    pub dh0: Tensor,
    /// dL/dc0 `[L·D, B, H]` (`[L·D, B, 0]` for cells without a cell state).
    pub dc0: Tensor,
}

impl Gradients {
    /// Gradients of `config`'s weights in `layout`'s flat order, and dx, dh0, dc0 as the
    /// engine shapes them for a forward of `dims`.
    pub(crate) fn from_parts(
        layout: &ParamLayout,
        config: &LstmConfig,
        dims: Dims,
        weights: &[f32],
        [dx, dh0, dc0]: [Vec<f32>; 3],
    ) -> Result<Gradients> {
        Ok(Gradients {
            weights: layout.unflatten(config, weights)?,
            dx: Tensor::new(x_shape(config, dims), dx)?,
            dh0: Tensor::new(state_shape(config, dims.batch, config.output_size()), dh0)?,
            dc0: Tensor::new(state_shape(config, dims.batch, config.cell_state_size()), dc0)?,
        })
    }

    /// Largest |value| over every gradient of the weights.
    pub fn max_abs_weight(&self) -> f32 {
        let layout = ParamLayout::of_weights(&self.weights);
        layout
            .flatten(&self.weights)
            .iter()
            .fold(0.0f32, |m, v| m.max(v.abs()))
    }

    /// Largest element-wise difference over every tensor; `None` if any shape differs.
    pub fn max_abs_diff(&self, other: &Gradients) -> Option<f32> {
        let (a, b) = (
            ParamLayout::of_weights(&self.weights),
            ParamLayout::of_weights(&other.weights),
        );
        if a != b {
            return None;
        }
        let (fa, fb) = (a.flatten(&self.weights), b.flatten(&other.weights));
        let w = fa.iter().zip(&fb).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        let dx = self.dx.max_abs_diff(&other.dx)?;
        let dh = self.dh0.max_abs_diff(&other.dh0)?;
        let dc = self.dc0.max_abs_diff(&other.dc0)?;
        Some(w.max(dx).max(dh).max(dc))
    }

    /// Write `grads.safetensors` (the weight gradients under the keys, shapes and convention of
    /// a weights file, each key behind `prefix`) and `dx.npy`, `dh0.npy`, `dc0.npy` (f32, in the
    /// convention's shapes; no `dc0.npy` for cells without a cell state) into `dir`, all or
    /// nothing, as [`Output::save_npy`](crate::Output::save_npy) does.
    pub fn save(self, dir: &Path, config: &LstmConfig, convention: Convention, prefix: &str) -> Result<()> {
        let grads = self.weights.to_safetensors_prefixed(convention, prefix)?;
        check_input(config, &self.dx)?;
        let mut tensors = vec![self.dx, convention.state_to_file(config.layout, self.dh0)?];
        if config.cell.has_cell_state() {
            tensors.push(convention.state_to_file(config.layout, self.dc0)?);
        }
        replace_dir(
            dir,
            &GRADIENT_FILES,
            |staging| {
                let path = staging.join(GRADIENT_FILES[0]);
                std::fs::write(&path, &grads).map_err(|e| Error::io(&path, e))?;
                GRADIENT_FILES[1..]
                    .iter()
                    .zip(&tensors)
                    .try_for_each(|(name, t)| t.write_npy(&staging.join(name)))
            },
            &Fs,
        )
    }
}

/// The files [`Gradients::save`] writes for `config`: [`GRADIENT_FILES`], without `dc0.npy` for
/// cells without a cell state.
pub fn gradient_files(config: &LstmConfig) -> &'static [&'static str] {
    if config.cell.has_cell_state() {
        &GRADIENT_FILES
    } else {
        &GRADIENT_FILES[..3]
    }
}

/// Where one direction of one layer keeps each weight tensor in the flat array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub w_ih: Range<usize>,
    pub w_hh: Range<usize>,
    pub b_ih: Option<Range<usize>>,
    pub b_hh: Option<Range<usize>>,
    pub peephole: Option<Range<usize>>,
    pub w_hr: Option<Range<usize>>,
    /// Columns of w_ih: the layer's input width.
    pub input: usize,
}

/// Every weight of a model in one flat array: for each layer, for each direction, W_ih `[4H, in]`,
/// W_hh `[4H, P]`, then if present b_ih `[4H]`, b_hh `[4H]`, peepholes `[3H]` (i, f, o), W_hr
/// `[P, H]`, each row-major as in [`DirectionWeights`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParamLayout {
    /// Index `layer·D + direction`.
    pub slots: Vec<Slot>,
    pub len: usize,
}

impl ParamLayout {
    pub fn new(config: &LstmConfig) -> Result<ParamLayout> {
        config.validate()?;
        let (g, h, p) = (config.gates(), config.hidden_size, config.output_size());
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<Range<usize>> {
            let end = at.checked_add(n).ok_or_else(|| Error::Overflow {
                what: "the model's weights".into(),
            })?;
            let r = at..end;
            at = end;
            Ok(r)
        };
        let mut slots = Vec::new();
        for l in 0..config.num_layers {
            let input = config.layer_input_size(l);
            for _ in 0..config.num_directions() {
                let w_ih = take(g * h * input)?;
                let w_hh = take(g * h * p)?;
                let (b_ih, b_hh) = if config.bias {
                    (Some(take(g * h)?), Some(take(g * h)?))
                } else {
                    (None, None)
                };
                let peephole = if config.peepholes {
                    Some(take(3 * h)?)
                } else {
                    None
                };
                let w_hr = if config.proj_size.is_some() {
                    Some(take(p * h)?)
                } else {
                    None
                };
                slots.push(Slot {
                    w_ih,
                    w_hh,
                    b_ih,
                    b_hh,
                    peephole,
                    w_hr,
                    input,
                });
            }
        }
        Ok(ParamLayout { slots, len: at })
    }

    /// Each weight tensor's name, `l{layer}.d{direction}.{w_ih|w_hh|b_ih|b_hh|peephole|w_hr}`,
    /// and where it sits in the flat array.
    pub fn named(&self, config: &LstmConfig) -> Vec<(String, Range<usize>)> {
        let nd = config.num_directions();
        let mut out = Vec::new();
        for (k, slot) in self.slots.iter().enumerate() {
            let at = |name: &str| format!("l{}.d{}.{name}", k / nd, k % nd);
            out.push((at("w_ih"), slot.w_ih.clone()));
            out.push((at("w_hh"), slot.w_hh.clone()));
            for (name, range) in [
                ("b_ih", &slot.b_ih),
                ("b_hh", &slot.b_hh),
                ("peephole", &slot.peephole),
                ("w_hr", &slot.w_hr),
            ] {
                if let Some(r) = range {
                    out.push((at(name), r.clone()));
                }
            }
        }
        out
    }

    /// The layout of weights that were checked when built.
    pub fn of_weights(weights: &LstmWeights) -> ParamLayout {
        ParamLayout::new(&weights.config(Default::default())).expect("LstmWeights are validated when built")
    }

    /// The weights as one flat array.
    pub fn flatten(&self, weights: &LstmWeights) -> Vec<f32> {
        let mut flat = vec![0.0; self.len];
        for (slot, dw) in self.slots.iter().zip(weights.layers().iter().flatten()) {
            flat[slot.w_ih.clone()].copy_from_slice(&dw.w_ih);
            flat[slot.w_hh.clone()].copy_from_slice(&dw.w_hh);
            if let (Some(ri), Some(rh), Some((bi, bh))) = (&slot.b_ih, &slot.b_hh, &dw.bias) {
                flat[ri.clone()].copy_from_slice(bi);
                flat[rh.clone()].copy_from_slice(bh);
            }
            if let (Some(r), Some(v)) = (&slot.peephole, &dw.peephole) {
                flat[r.clone()].copy_from_slice(v);
            }
            if let (Some(r), Some(v)) = (&slot.w_hr, &dw.w_hr) {
                flat[r.clone()].copy_from_slice(v);
            }
        }
        flat
    }

    /// Weights of `config` from a flat array in this layout.
    pub fn unflatten(&self, config: &LstmConfig, flat: &[f32]) -> Result<LstmWeights> {
        if flat.len() != self.len {
            return Err(Error::shape("flat weights", &[self.len], &[flat.len()]));
        }
        let d = config.num_directions();
        let part = |r: &Range<usize>| flat[r.clone()].to_vec();
        let layers = self
            .slots
            .chunks(d)
            .map(|dirs| {
                dirs.iter()
                    .map(|s| DirectionWeights {
                        w_ih: part(&s.w_ih),
                        w_hh: part(&s.w_hh),
                        bias: s
                            .b_ih
                            .as_ref()
                            .zip(s.b_hh.as_ref())
                            .map(|(i, h)| (part(i), part(h))),
                        peephole: s.peephole.as_ref().map(part),
                        w_hr: s.w_hr.as_ref().map(part),
                    })
                    .collect()
            })
            .collect();
        LstmWeights::of_cell(
            config.cell,
            config.linear_before_reset,
            config.input_size,
            config.hidden_size,
            config.direction,
            layers,
        )
    }
}

/// Check dL/dy, dL/dh_n and dL/dc_n against a forward of shape `dims`.
pub(crate) fn check_output_grads(
    config: &LstmConfig,
    dims: Dims,
    dy: &Tensor,
    dh_n: Option<&Tensor>,
    dc_n: Option<&Tensor>,
) -> Result<()> {
    let expected = y_shape(config, dims);
    if dy.shape() != expected.as_slice() {
        return Err(Error::shape("dy", &expected, dy.shape()));
    }
    for (what, t, width) in [
        ("dh_n", dh_n, config.output_size()),
        ("dc_n", dc_n, config.cell_state_size()),
    ] {
        let expected = state_shape(config, dims.batch, width);
        if let Some(t) = t {
            if t.shape() != expected.as_slice() {
                return Err(Error::shape(what, &expected, t.shape()));
            }
        }
    }
    for (what, t) in [("dy", Some(dy)), ("dh_n", dh_n), ("dc_n", dc_n)] {
        if let Some(t) = t {
            if t.data().iter().any(|v| !v.is_finite()) {
                return Err(Error::invalid(what, "holds a value that is not finite"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "cpu_tests.rs"]
mod cpu_tests;

/// Every weight of `weights` in one flat array, in the order the GPU keeps them and
/// [`Optimizer::step_host`] updates them: per layer and direction W_ih, W_hh, b_ih, b_hh,
/// peepholes, W_hr (those present), each row-major.
pub fn flatten(weights: &LstmWeights) -> Vec<f32> {
    ParamLayout::of_weights(weights).flatten(weights)
}

/// The weights of `config` from a flat array in [`flatten`]'s order.
pub fn unflatten(config: &LstmConfig, flat: &[f32]) -> Result<LstmWeights> {
    ParamLayout::new(config)?.unflatten(config, flat)
}
