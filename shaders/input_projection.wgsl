// Input projection of one layer for every timestep and both directions, hoisted out of the
// recurrence: XP = X·Wᵀ + b.
//   X  [M, K]  M = T·B rows in the sequence layout, K = the layer's input width
//   W  [N, K]  N = D·4H rows, gate-interleaved by the host: row d·4H + 4j + g is gate g of unit j
//   b  [N]     both biases summed (zeros without bias)
//   XP [M, N]  so the step kernel reads the four gates of a unit as one vec4
// Tiling: a 16×16 workgroup computes a 64×64 tile of XP. Each invocation holds a 4×4 register
// block at rows ly + 16·r and columns lx + 16·c, so neighbours touch neighbouring addresses. K is
// walked in slices of 16 staged through workgroup memory, zero-padded past the matrix edges.

const TILE: u32 = 64u;
const TILE_K: u32 = 16u;
const WG: u32 = 16u;

@group(0) @binding(0) var<uniform> params: GemmParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> xp: array<f32>;

var<workgroup> x_tile: array<array<f32, TILE>, TILE_K>; // [k][m]
var<workgroup> w_tile: array<array<f32, TILE>, TILE_K>; // [k][n]

@compute @workgroup_size(WG, WG, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m0 = wid.y * TILE;
    let n0 = wid.x * TILE;
    let flat = lid.y * WG + lid.x;
    var acc: array<array<f32, 4>, 4>;

    for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
        // Each tile is 64×16 values; 256 invocations load four of each.
        for (var r = 0u; r < 4u; r++) {
            let e = flat + r * WG * WG;
            let row = e / TILE_K;
            let kk = e % TILE_K;
            let gk = k0 + kk;
            var xv = 0.0;
            var wv = 0.0;
            if (m0 + row < params.m && gk < params.k) {
                xv = x[(m0 + row) * params.k + gk];
            }
            if (n0 + row < params.n && gk < params.k) {
                wv = w[(n0 + row) * params.k + gk];
            }
            x_tile[kk][row] = xv;
            w_tile[kk][row] = wv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            var a: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                a[i] = x_tile[kk][lid.y + WG * i];
                bv[i] = w_tile[kk][lid.x + WG * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i][j] = fma(a[i], bv[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let gm = m0 + lid.y + WG * i;
        for (var j = 0u; j < 4u; j++) {
            let gn = n0 + lid.x + WG * j;
            if (gm < params.m && gn < params.n) {
                xp[gm * params.n + gn] = acc[i][j] + bias[gn];
            }
        }
    }
}
