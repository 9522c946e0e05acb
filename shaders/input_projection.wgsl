// Input projection of one layer for every timestep and both directions, hoisted out of the
// recurrence: XP = X·Wᵀ + b.
//   X  [M, K]  M = T·B rows in the sequence layout, K = the layer's input width
//   W  [N, K]  N = D·4H rows (weights at binding 2, read with weight()), gate-interleaved by the
//              host: row d·4H + 4j + g is gate g of unit j
//   b  [N]     both biases summed (zeros without bias)
//   XP [M, N]  so the step kernels read the four gates of a unit as one vec4
// Tiling: a 16×16 workgroup computes a TILE_M × TILE_N tile of XP (pipeline constants: 64 or 128
// each), each invocation a contiguous RM × RN register block (RM = TILE_M / 16, RN = TILE_N / 16)
// at rows ly·RM.. and columns lx·RN... K is walked in slices of TILE_K staged in workgroup
// memory, zero-padded past the matrix edges. Loads walk k across neighbouring invocations (so
// global reads are contiguous) and store into tiles laid out [k][row] with one float of padding
// per k, so neighbouring invocations store to different banks; the inner loop reads a block's
// row of a tile four floats at a time (RM and RN are multiples of 4).

override TILE_M: u32 = 64u;
override TILE_N: u32 = 64u;
override TILE_K: u32 = 16u;

const WG: u32 = 16u;
const MAX_BLOCK: u32 = 8u;

@group(0) @binding(0) var<uniform> params: GemmParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> xp: array<f32>;

var<workgroup> x_tile: array<f32, TILE_K * (TILE_M + 1u)>; // [k][m]
var<workgroup> w_tile: array<f32, TILE_K * (TILE_N + 1u)>; // [k][n]

@compute @workgroup_size(WG, WG, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let rm = TILE_M / WG;
    let rn = TILE_N / WG;
    let m0 = unfold_yz(wid, nwg, 1u).x * TILE_M;
    if (m0 >= params.m) {
        return;
    }
    let n0 = wid.x * TILE_N;
    let flat = lid.y * WG + lid.x;
    let x_stride = TILE_M + 1u;
    let w_stride = TILE_N + 1u;
    var acc: array<array<f32, MAX_BLOCK>, MAX_BLOCK>;

    for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
        for (var e = flat; e < TILE_M * TILE_K; e += WG * WG) {
            let row = e / TILE_K;
            let kk = e % TILE_K;
            var v = 0.0;
            if (m0 + row < params.m && k0 + kk < params.k) {
                v = x[(m0 + row) * params.k + k0 + kk];
            }
            x_tile[kk * x_stride + row] = v;
        }
        for (var e = flat; e < TILE_N * TILE_K; e += WG * WG) {
            let row = e / TILE_K;
            let kk = e % TILE_K;
            var v = 0.0;
            if (n0 + row < params.n && k0 + kk < params.k) {
                v = weight((n0 + row) * params.k + k0 + kk);
            }
            w_tile[kk * w_stride + row] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            var a: array<f32, MAX_BLOCK>;
            var b: array<f32, MAX_BLOCK>;
            for (var i = 0u; i < rm; i += 4u) {
                let at = kk * x_stride + lid.y * rm + i;
                a[i] = x_tile[at];
                a[i + 1u] = x_tile[at + 1u];
                a[i + 2u] = x_tile[at + 2u];
                a[i + 3u] = x_tile[at + 3u];
            }
            for (var j = 0u; j < rn; j += 4u) {
                let at = kk * w_stride + lid.x * rn + j;
                b[j] = w_tile[at];
                b[j + 1u] = w_tile[at + 1u];
                b[j + 2u] = w_tile[at + 2u];
                b[j + 3u] = w_tile[at + 3u];
            }
            for (var i = 0u; i < rm; i++) {
                for (var j = 0u; j < rn; j++) {
                    acc[i][j] = fma(a[i], b[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < rm; i++) {
        let gm = m0 + lid.y * rm + i;
        for (var j = 0u; j < rn; j++) {
            let gn = n0 + lid.x * rn + j;
            if (gm < params.m && gn < params.n) {
                xp[gm * params.n + gn] = acc[i][j] + bias[gn];
            }
        }
    }
}
