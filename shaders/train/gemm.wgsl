// C = A·B (or C += A·B) over strided views (see params.wgsl) for the training GEMMs whose sides
// are all long (the hoisted input projection, dW, dR, dW_hr and dx at real sizes): 64×64 output
// tiles, each invocation 4×4 outputs, k in steps of 16 through workgroup memory. Tiles are
// loaded along whichever side of A and B is contiguous (dW and dR read dgates transposed), so
// neighbouring invocations read neighbouring addresses either way. The others run
// gemm_direct.wgsl.

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TILE: u32 = 16u;  // invocations per side
const BLOCK: u32 = 4u;  // outputs per invocation per side
const WIDE: u32 = 64u;  // TILE·BLOCK: the output tile's side
const DEPTH: u32 = 16u; // k per step
const THREADS: u32 = 256u;

var<workgroup> tile_a: array<f32, 1024>; // [WIDE m][DEPTH k]
var<workgroup> tile_b: array<f32, 1024>; // [DEPTH k][WIDE n]

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) index: u32,
) {
    let m = p.m;
    let n = p.n;
    let k_len = p.k;
    // A y extent past the device's limit continues in z (src/backend/gpu/grid.rs).
    let m0 = (wid.y + nwg.y * wid.z) * WIDE;
    if (m0 >= m) {
        return;
    }
    let n0 = wid.x * WIDE;
    // A is read along m where its rows are adjacent (a transposed view), else along k; B along
    // n where its columns are adjacent, else along k.
    let a_along_m = p.a_rs == 1u && p.a_cs != 1u;
    let b_along_k = p.b_rs == 1u && p.b_cs != 1u;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < k_len; k0 += DEPTH) {
        for (var e = 0u; e < WIDE * DEPTH / THREADS; e++) {
            let at = index + e * THREADS;
            var ml = at / DEPTH;
            var kl = at % DEPTH;
            if (a_along_m) {
                ml = at % WIDE;
                kl = at / WIDE;
            }
            var va = 0.0;
            if (m0 + ml < m && k0 + kl < k_len) {
                va = a[p.a_off + (m0 + ml) * p.a_rs + (k0 + kl) * p.a_cs];
            }
            tile_a[ml * DEPTH + kl] = va;
            var kb = at / WIDE;
            var nl = at % WIDE;
            if (b_along_k) {
                kb = at % DEPTH;
                nl = at / DEPTH;
            }
            var vb = 0.0;
            if (k0 + kb < k_len && n0 + nl < n) {
                vb = b[p.b_off + (k0 + kb) * p.b_rs + (n0 + nl) * p.b_cs];
            }
            tile_b[kb * WIDE + nl] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < DEPTH; kk++) {
            var bv: array<f32, 4>;
            for (var j = 0u; j < BLOCK; j++) {
                bv[j] = tile_b[kk * WIDE + lid.x + j * TILE];
            }
            for (var i = 0u; i < BLOCK; i++) {
                let av = tile_a[(lid.y + i * TILE) * DEPTH + kk];
                for (var j = 0u; j < BLOCK; j++) {
                    acc[i * BLOCK + j] += av * bv[j];
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < BLOCK; i++) {
        let row = m0 + lid.y + i * TILE;
        for (var j = 0u; j < BLOCK; j++) {
            let col = n0 + lid.x + j * TILE;
            if (row < m && col < n) {
                let at = p.c_off + row * p.c_rs + col;
                if (p.accumulate == 1u) {
                    c[at] += acc[i * BLOCK + j];
                } else {
                    c[at] = acc[i * BLOCK + j];
                }
            }
        }
    }
}
