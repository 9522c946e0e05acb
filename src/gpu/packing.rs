//! Weight layouts the kernels read, prepared once when the engine is built.
//!
//! Gate interleaving: the engine's weights hold four row blocks (i, f, g, o) of H rows. The
//! kernels want the four gates of hidden unit j side by side, so row `4j + g` of the packed input
//! weights is row `g·H + j` of the original, and both directions are stacked (direction d starts
//! at row d·4H) so one GEMM projects both.

use crate::weights::DirectionWeights;

/// `[D·4H, in]` interleaved input weights and `[D·4H]` summed biases (zeros without bias).
pub(crate) fn input_weights(dirs: &[DirectionWeights], h: usize) -> (Vec<f32>, Vec<f32>) {
    let inp = dirs[0].w_ih.len() / (4 * h);
    let mut w = Vec::with_capacity(dirs.len() * 4 * h * inp);
    let mut bias = Vec::with_capacity(dirs.len() * 4 * h);
    for dw in dirs {
        for j in 0..h {
            for g in 0..4 {
                let row = g * h + j;
                w.extend_from_slice(&dw.w_ih[row * inp..][..inp]);
                bias.push(dw.bias.as_ref().map_or(0.0, |(bi, bh)| bi[row] + bh[row]));
            }
        }
    }
    (w, bias)
}

/// `[D][H (input k)][H (unit j)][4 gates]` recurrent weights: k-major so that neighbouring units
/// read neighbouring vec4s.
pub(crate) fn recurrent_weights(dirs: &[DirectionWeights], h: usize) -> Vec<f32> {
    let mut r = Vec::with_capacity(dirs.len() * 4 * h * h);
    for dw in dirs {
        for k in 0..h {
            for j in 0..h {
                for g in 0..4 {
                    r.push(dw.w_hh[(g * h + j) * h + k]);
                }
            }
        }
    }
    r
}
