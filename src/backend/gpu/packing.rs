//! Weight layouts the kernels read, prepared once when the engine is built.
//!
//! Gate interleaving: the kernels hold four lanes per hidden unit (a vec4) and want the lanes of
//! unit j side by side, so row `4j + lane` of the packed input weights is row `g·H + j` of the
//! original, for the gate block g that feeds the lane ([`Lanes`]), and both directions are
//! stacked (direction d starts at row d·4H) so one GEMM projects both. The LSTM's four gates fill
//! the lanes; the GRU's candidate takes two lanes (its input part and its recurrent part, which
//! the reset gate scales) and leaves no lane empty; the RNN's one gate leaves three lanes zero.

use crate::cell::Cell;
use crate::weights::DirectionWeights;

/// Which gate block of W (with Wb), of R and of Rb feeds each of a unit's four lanes (`None`:
/// zeros). The cell bodies (`shaders/cells/`) read the lanes in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lanes {
    pub input: [Option<usize>; 4],
    pub recurrent: [Option<usize>; 4],
    pub recurrent_bias: [Option<usize>; 4],
}

impl Lanes {
    /// The lanes of `cell` (with the GRU's `linear_before_reset`).
    pub fn of(cell: Cell, linear_before_reset: bool) -> Lanes {
        const N: Option<usize> = None;
        let (input, recurrent) = match cell {
            // i, f, g, o: each lane sums its gate's W·x, R·h and both biases.
            Cell::Lstm => (
                [Some(0), Some(1), Some(2), Some(3)],
                [Some(0), Some(1), Some(2), Some(3)],
            ),
            // z, r, then the candidate's W_n·x + Wb_n and R_n's product apart.
            Cell::Gru => ([Some(0), Some(1), Some(2), N], [Some(0), Some(1), N, Some(2)]),
            Cell::Rnn => ([Some(0), N, N, N], [Some(0), N, N, N]),
        };
        // Rb_n sits with R_n's product when the reset gate scales it, and with W_n·x when the
        // product is of r⊙h (computed in the kernel, without a bias).
        let recurrent_bias = if cell == Cell::Gru && !linear_before_reset {
            [Some(0), Some(1), Some(2), N]
        } else {
            recurrent
        };
        Lanes {
            input,
            recurrent,
            recurrent_bias,
        }
    }
}

/// `[D·4H, in]` interleaved input weights.
pub(crate) fn input_weights(dirs: &[DirectionWeights], h: usize, cell: Cell) -> Vec<f32> {
    let inp = dirs[0].w_ih.len() / (cell.gates() * h);
    let lanes = Lanes::of(cell, true);
    let mut w = Vec::with_capacity(dirs.len() * 4 * h * inp);
    for dw in dirs {
        for j in 0..h {
            for lane in lanes.input {
                match lane {
                    Some(g) => w.extend_from_slice(&dw.w_ih[(g * h + j) * inp..][..inp]),
                    None => w.extend(std::iter::repeat_n(0.0, inp)),
                }
            }
        }
    }
    w
}

/// `[D·4H]` interleaved biases, each lane the sum of the biases of its blocks (zeros without
/// bias).
pub(crate) fn summed_biases(
    dirs: &[DirectionWeights],
    h: usize,
    cell: Cell,
    linear_before_reset: bool,
) -> Vec<f32> {
    let lanes = Lanes::of(cell, linear_before_reset);
    let mut bias = Vec::with_capacity(dirs.len() * 4 * h);
    for dw in dirs {
        for j in 0..h {
            for (input, recurrent) in lanes.input.into_iter().zip(lanes.recurrent_bias) {
                bias.push(dw.bias.as_ref().map_or(0.0, |(bi, bh)| {
                    input.map_or(0.0, |g| bi[g * h + j]) + recurrent.map_or(0.0, |g| bh[g * h + j])
                }));
            }
        }
    }
    bias
}

/// `[D][P (input k)][H (unit j)][4 lanes]` recurrent weights, k-major so that neighbouring units
/// read neighbouring vec4s, followed by `[D][H][4]` peepholes (p_i, p_f, p_o, 0; zeros without
/// peepholes). P is the size of h: the projection size, or H.
pub(crate) fn recurrent_weights(dirs: &[DirectionWeights], h: usize, cell: Cell) -> Vec<f32> {
    let p = dirs[0].w_hh.len() / (cell.gates() * h);
    let lanes = Lanes::of(cell, true);
    let mut r = Vec::with_capacity(dirs.len() * 4 * h * (p + 1));
    for dw in dirs {
        for k in 0..p {
            for j in 0..h {
                for lane in lanes.recurrent {
                    r.push(lane.map_or(0.0, |g| dw.w_hh[(g * h + j) * p + k]));
                }
            }
        }
    }
    for dw in dirs {
        for j in 0..h {
            match &dw.peephole {
                Some(pw) => r.extend([pw[j], pw[h + j], pw[2 * h + j], 0.0]),
                None => r.extend([0.0; 4]),
            }
        }
    }
    r
}

/// `[D][H (j)][P (q)]`: each direction's W_hr `[P, H]` transposed, so that neighbouring outputs
/// q read neighbouring values. `None` without projection.
pub(crate) fn projection_weights(dirs: &[DirectionWeights], h: usize) -> Option<Vec<f32>> {
    let p = dirs[0].w_hr.as_ref()?.len() / h;
    let mut w = Vec::with_capacity(dirs.len() * p * h);
    for dw in dirs {
        let w_hr = dw.w_hr.as_ref().expect("every direction has W_hr");
        for j in 0..h {
            for q in 0..p {
                w.push(w_hr[q * h + j]);
            }
        }
    }
    Some(w)
}

/// The interleaved input weights `[N, K]` of [`input_weights`] transposed to `[K, N]`, for the
/// register-blocked GEMM (N = D·4H is a multiple of 4, so each row is whole vec4s).
pub(crate) fn transposed(w: &[f32], n: usize) -> Vec<f32> {
    let k = w.len() / n;
    let mut t = vec![0.0; w.len()];
    for row in 0..n {
        for col in 0..k {
            t[col * n + row] = w[row * k + col];
        }
    }
    t
}

/// The wavefront's stacked weights, one block per layer in one buffer: layer 0's
/// [`recurrent_weights`], then for each layer ≥ 1 its recurrent weights followed by its input
/// weights in the same k-major layout (`[I][H][4]`, I = H) and its summed biases (`[H][4]`).
/// Returns the floats and, in vec4s, where layer 1's block starts and the stride between the
/// blocks of layers ≥ 1. Only for one direction without projection.
pub(crate) fn stacked_weights(
    layers: &[Vec<DirectionWeights>],
    h: usize,
    cell: Cell,
    linear_before_reset: bool,
) -> (Vec<f32>, u32, u32) {
    let mut stacked = recurrent_weights(&layers[0], h, cell);
    let first = stacked.len() / 4;
    for dirs in &layers[1..] {
        stacked.extend(recurrent_weights(dirs, h, cell));
        stacked.extend(transposed(&input_weights(dirs, h, cell), 4 * h));
        stacked.extend(summed_biases(dirs, h, cell, linear_before_reset));
    }
    let stride = (stacked.len() / 4 - first) / (layers.len() - 1).max(1);
    (stacked, first as u32, stride as u32)
}

/// `values` as little-endian f16, padded with a zero half to whole u32s (the layout the f16
/// weight snippets read, packed or native).
pub(crate) fn to_f16_bytes(values: &[f32]) -> Vec<u8> {
    let mut bytes: Vec<u8> = values
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    bytes.resize(bytes.len().next_multiple_of(4), 0);
    bytes
}
