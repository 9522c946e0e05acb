// Input projection, register-blocked variant for adapters where workgroup barriers are expensive
// (software rasterizers, some mobile GPUs): no workgroup memory, no barriers.
//   X   [M, K]        M = T·B rows, K = the layer's input width
//   W_t [K, N/4]      vec4s: the gate-interleaved W of input_projection.wgsl, transposed so row k
//                     holds input k of every output column
//   b   [N/4]         vec4s, both biases summed
//   XP  [M, N/4]      vec4s
// Invocation (c, m-block) computes columns 4c..4c+3 of ROWS consecutive rows. Invocations of a
// workgroup share their rows, so the X loads are uniform across it and the W_t loads are
// contiguous; each loaded W_t vec4 feeds ROWS fused multiply-adds.

const WG: u32 = 64u;
const ROWS: u32 = 8u;

@group(0) @binding(0) var<uniform> params: GemmParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> xp: array<vec4<f32>>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let columns = params.n / 4u;
    let c = gid.x;
    if (c >= columns) {
        return;
    }
    let m0 = wid.y * ROWS;
    // Rows past M repeat the last row (read, never written), so the loop has no bounds checks.
    var row_at: array<u32, 8>;
    for (var r = 0u; r < ROWS; r++) {
        row_at[r] = min(m0 + r, params.m - 1u) * params.k;
    }
    var acc: array<vec4<f32>, 8>;
    for (var k = 0u; k < params.k; k++) {
        let wk = w[k * columns + c];
        for (var r = 0u; r < ROWS; r++) {
            acc[r] = fma(vec4<f32>(x[row_at[r] + k]), wk, acc[r]);
        }
    }
    let b = bias[c];
    for (var r = 0u; r < ROWS; r++) {
        if (m0 + r < params.m) {
            xp[(m0 + r) * columns + c] = acc[r] + b;
        }
    }
}
