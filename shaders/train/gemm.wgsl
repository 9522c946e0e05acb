// C = A·B (or C += A·B) over strided views (see params.wgsl), in 16×16 tiles through workgroup
// memory: the training GEMMs (the hoisted input projection, dW, dR, db, dW_hr and dx over all
// timesteps at once) whose sides are all long enough to reuse a tile. The others run
// gemm_direct.wgsl.

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TILE: u32 = 16u;

var<workgroup> tile_a: array<f32, 256>;
var<workgroup> tile_b: array<f32, 256>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m = word(G_M);
    let n = word(G_N);
    let k_len = word(G_K);
    let row = wid.y * TILE + lid.y;
    let col = wid.x * TILE + lid.x;
    var acc = 0.0;
    for (var k0 = 0u; k0 < k_len; k0 += TILE) {
        let ka = k0 + lid.x;
        var va = 0.0;
        if (row < m && ka < k_len) {
            va = a[word(A_OFF) + row * word(A_RS) + ka * word(A_CS)];
        }
        tile_a[lid.y * TILE + lid.x] = va;
        let kb = k0 + lid.y;
        var vb = 0.0;
        if (kb < k_len && col < n) {
            vb = b[word(B_OFF) + kb * word(B_RS) + col * word(B_CS)];
        }
        tile_b[lid.y * TILE + lid.x] = vb;
        workgroupBarrier();
        for (var kk = 0u; kk < TILE; kk++) {
            acc += tile_a[lid.y * TILE + kk] * tile_b[kk * TILE + lid.x];
        }
        workgroupBarrier();
    }
    if (row < m && col < n) {
        let at = word(C_OFF) + row * word(C_RS) + col;
        if (word(ACCUMULATE) == 1u) {
            c[at] += acc;
        } else {
            c[at] = acc;
        }
    }
}
