// Input projection, register-blocked variant for adapters where workgroup barriers are expensive
// (software rasterizers, some mobile GPUs): no workgroup memory, no barriers.
//   X   [M, K]        M = T·B rows, K = the layer's input width
//   W_t [K, N/4]      vec4s: the gate-interleaved W of input_projection.wgsl, transposed so row k
//                     holds input k of every output column
//   b   [N/4]         vec4s, both biases summed
//   XP  [M, N/4]      vec4s
// Invocation (c, m-block) computes the 8 columns of vec4s 2c and 2c+1 (COLUMNS = 2) for ROWS
// consecutive rows.
// Invocations of a workgroup share their rows, so the X loads are uniform across it and the W_t
// loads contiguous; each X value feeds 8 multiply-adds and each W_t vec4 feeds ROWS.

const WG: u32 = 64u;
const ROWS: u32 = 16u;
// vec4 columns per invocation.
const COLUMNS: u32 = 2u;

@group(0) @binding(0) var<uniform> params: GemmParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> xp: array<vec4<f32>>;

@compute @workgroup_size(WG, 1, 1)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let columns = params.n / 4u;
    let c0 = COLUMNS * gid.x;
    let m0 = unfold_yz(wid, nwg, 1u).x * ROWS;
    if (c0 >= columns || m0 >= params.m) {
        return;
    }
    // An odd last vec4 column is computed twice (read, never written twice).
    let c1 = min(c0 + 1u, columns - 1u);
    // Rows past M repeat the last row (read, never written), so the loop has no bounds checks.
    var row_at: array<u32, 16>;
    for (var r = 0u; r < ROWS; r++) {
        row_at[r] = min(m0 + r, params.m - 1u) * params.k;
    }
    var acc0: array<vec4<f32>, 16>;
    var acc1: array<vec4<f32>, 16>;
    // Each column's scales (int8 weights; 1 otherwise) hold for every k.
    let s0 = weight4_scale(c0);
    let s1 = weight4_scale(c1);
    for (var k = 0u; k < params.k; k++) {
        let w0 = weight4_raw(k * columns + c0) * s0;
        let w1 = weight4_raw(k * columns + c1) * s1;
        for (var r = 0u; r < ROWS; r++) {
            let xv = vec4<f32>(x[row_at[r] + k]);
            acc0[r] = fma(xv, w0, acc0[r]);
            acc1[r] = fma(xv, w1, acc1[r]);
        }
    }
    let b0 = bias[c0];
    let b1 = bias[c1];
    for (var r = 0u; r < ROWS; r++) {
        if (m0 + r < params.m) {
            xp[(m0 + r) * columns + c0] = acc0[r] + b0;
            if (c0 + 1u < columns) {
                xp[(m0 + r) * columns + c1] = acc1[r] + b1;
            }
        }
    }
}
