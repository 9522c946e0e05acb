//! The float64 backward against central finite differences of the float64 forward it
//! differentiates, tensor by tensor: every weight, input and initial-state value of a point is
//! moved by ±[`FD_STEP`]. `conform` runs it on a few cases (`conform::finite_differences`), the
//! unit tests on every option.

use std::ops::Range;

use super::{backward64, forward64};
use crate::config::LstmConfig;
use crate::forward::Dims;
use crate::train::ParamLayout;

/// The largest |analytic − finite difference| the CPU backward may show, relative to the
/// largest gradient of the same tensor: central differences of step [`FD_STEP`] in f64 agree to
/// about 1e-9 on the cases checked.
pub const FD_TOLERANCE: f64 = 1e-6;
/// The finite differences' step.
pub const FD_STEP: f64 = 1e-5;

/// At a kink, the analytic gradient must match one one-sided difference to this (relative to
/// the tensor's largest gradient): their error is O(step).
const KINK: f64 = 1e-4;

/// The CPU backward against central finite differences of the f64 forward, per tensor.
#[derive(Clone, Debug)]
pub struct FdCheck {
    /// Each tensor (each weight tensor, dx, dh0, dc0): its name, its worst error relative to its
    /// largest gradient, and that largest gradient.
    pub tensors: Vec<(String, f64, f64)>,
    /// Values whose step crossed a kink of an activation or the clip, checked against the
    /// one-sided difference on their side instead (to 10⁻⁴ of the largest gradient).
    pub kinks: usize,
}

impl FdCheck {
    /// The tensor with the largest relative error, and that error.
    pub fn worst(&self) -> (&str, f64) {
        self.tensors
            .iter()
            .map(|(n, e, _)| (n.as_str(), *e))
            .fold(("", 0.0), |w, t| if t.1 > w.1 { t } else { w })
    }

    pub fn passed(&self) -> bool {
        self.worst().1 <= FD_TOLERANCE
    }
}

/// Where the loss L = Σ dy⊙y + Σ dh_n⊙h_n + Σ dc_n⊙c_n is differentiated: flat weights (the
/// layout's order), input, initial state, and the output gradients, all f64.
pub(crate) struct Point {
    pub params: Vec<f64>,
    pub x: Vec<f64>,
    pub h0: Vec<f64>,
    pub c0: Vec<f64>,
    pub dy: Vec<f64>,
    pub dh_n: Vec<f64>,
    pub dc_n: Vec<f64>,
}

/// Check `backward64` at `point` against central differences of `forward64`.
pub(crate) fn check(
    cfg: &LstmConfig,
    layout: &ParamLayout,
    point: Point,
    dims: Dims,
    lens: Option<&[usize]>,
) -> FdCheck {
    let Point {
        params,
        x,
        h0,
        c0,
        dy,
        dh_n,
        dc_n,
    } = point;
    let dot = |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(u, v)| u * v).sum() };
    let loss = |vals: &[Vec<f64>; 4]| -> f64 {
        let initial = Some((vals[2].as_slice(), vals[3].as_slice()));
        let (y, hn, cn, _) = forward64(cfg, layout, &vals[0], &vals[1], initial, dims, lens);
        dot(&y, &dy) + dot(&hn, &dh_n) + dot(&cn, &dc_n)
    };
    let (_, _, _, tapes) = forward64(cfg, layout, &params, &x, Some((&h0, &c0)), dims, lens);
    let (grads, dx, dh0, dc0) = backward64(cfg, layout, &params, &tapes, &dy, &dh_n, &dc_n, dims, lens);
    let mut values = [params, x, h0, c0];
    let at = loss(&values);
    // The central difference, and the two one-sided ones.
    let mut fd = |which: usize, k: usize| -> [f64; 3] {
        let v = values[which][k];
        values[which][k] = v + FD_STEP;
        let up = loss(&values);
        values[which][k] = v - FD_STEP;
        let down = loss(&values);
        values[which][k] = v;
        [
            (up - down) / (2.0 * FD_STEP),
            (up - at) / FD_STEP,
            (at - down) / FD_STEP,
        ]
    };
    let mut parts: Vec<(String, usize, Range<usize>, &[f64])> = layout
        .named(cfg)
        .into_iter()
        .map(|(name, range)| (name, 0, range.clone(), &grads[range]))
        .collect();
    for (name, which, g) in [("dx", 1, &dx), ("dh0", 2, &dh0), ("dc0", 3, &dc0)] {
        parts.push((name.into(), which, 0..g.len(), g));
    }
    let mut kinks = 0;
    let tensors = parts
        .into_iter()
        .map(|(name, which, range, analytic)| {
            let largest = analytic
                .iter()
                .fold(0.0f64, |m, v| m.max(v.abs()))
                .max(f64::MIN_POSITIVE);
            let mut worst = 0.0f64;
            for (k, a) in range.zip(analytic) {
                let [central, forward, backward] = fd(which, k);
                let mut error = (a - central).abs() / largest;
                // A kink (ReLU at 0, a clip's edge) within the step: the side that crosses it
                // differs, so the central difference is meaningless there, while the analytic
                // gradient is the other side's, to the one-sided differences' O(step) accuracy.
                // Where the function is smooth the two sides agree to O(step) and nothing is
                // excused.
                let side = (a - forward).abs().min((a - backward).abs()) / largest;
                let spread = (forward - backward).abs() / largest;
                if error > FD_TOLERANCE && side <= KINK && spread > 10.0 * side {
                    kinks += 1;
                    error = 0.0;
                }
                worst = worst.max(error);
            }
            (name, worst, largest)
        })
        .collect();
    FdCheck { tensors, kinks }
}
