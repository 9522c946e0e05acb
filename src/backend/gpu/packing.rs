//! Weight layouts the kernels read, prepared once when the engine is built.
//!
//! Gate interleaving: the engine's weights hold four row blocks (i, f, g, o) of H rows. The
//! kernels want the four gates of hidden unit j side by side, so row `4j + g` of the packed input
//! weights is row `g·H + j` of the original, and both directions are stacked (direction d starts
//! at row d·4H) so one GEMM projects both.

use crate::weights::DirectionWeights;

/// `[D·4H, in]` interleaved input weights.
pub(crate) fn input_weights(dirs: &[DirectionWeights], h: usize) -> Vec<f32> {
    let inp = dirs[0].w_ih.len() / (4 * h);
    let mut w = Vec::with_capacity(dirs.len() * 4 * h * inp);
    for dw in dirs {
        for j in 0..h {
            for g in 0..4 {
                w.extend_from_slice(&dw.w_ih[(g * h + j) * inp..][..inp]);
            }
        }
    }
    w
}

/// `[D·4H]` interleaved sums of both biases (zeros without bias).
pub(crate) fn summed_biases(dirs: &[DirectionWeights], h: usize) -> Vec<f32> {
    let mut bias = Vec::with_capacity(dirs.len() * 4 * h);
    for dw in dirs {
        for j in 0..h {
            for g in 0..4 {
                let row = g * h + j;
                bias.push(dw.bias.as_ref().map_or(0.0, |(bi, bh)| bi[row] + bh[row]));
            }
        }
    }
    bias
}

/// `[D][P (input k)][H (unit j)][4 gates]` recurrent weights, k-major so that neighbouring units
/// read neighbouring vec4s, followed by `[D][H][4]` peepholes (p_i, p_f, p_o, 0; zeros without
/// peepholes). P is the size of h: the projection size, or H.
pub(crate) fn recurrent_weights(dirs: &[DirectionWeights], h: usize) -> Vec<f32> {
    let p = dirs[0].w_hh.len() / (4 * h);
    let mut r = Vec::with_capacity(dirs.len() * 4 * h * (p + 1));
    for dw in dirs {
        for k in 0..p {
            for j in 0..h {
                for g in 0..4 {
                    r.push(dw.w_hh[(g * h + j) * p + k]);
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
pub(crate) fn stacked_weights(layers: &[Vec<DirectionWeights>], h: usize) -> (Vec<f32>, u32, u32) {
    let mut stacked = recurrent_weights(&layers[0], h);
    let first = stacked.len() / 4;
    for dirs in &layers[1..] {
        stacked.extend(recurrent_weights(dirs, h));
        stacked.extend(transposed(&input_weights(dirs, h), 4 * h));
        stacked.extend(summed_biases(dirs, h));
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
