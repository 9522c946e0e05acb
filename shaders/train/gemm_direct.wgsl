// C = A·B (or C += A·B) over strided views (see params.wgsl), one output per invocation looping
// over k without workgroup memory or barriers: for the GEMMs with a short side (a narrow input, a
// small output such as db, or a short reduction), where tiles would be mostly empty.

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TILE: u32 = 16u;

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let m = p.m;
    let n = p.n;
    let k_len = p.k;
    // A y extent past the device's limit continues in z (src/backend/gpu/grid.rs).
    let row = (wid.y + nwg.y * wid.z) * TILE + lid.y;
    let col = wid.x * TILE + lid.x;
    if (row >= m || col >= n) { return; }
    var acc = 0.0;
    var ia = p.a_off + row * p.a_rs;
    var ib = p.b_off + col * p.b_cs;
    let sa = p.a_cs;
    let sb = p.b_rs;
    for (var k = 0u; k < k_len; k++) {
        acc += a[ia] * b[ib];
        ia += sa;
        ib += sb;
    }
    let at = p.c_off + row * p.c_rs + col;
    if (p.accumulate == 1u) {
        c[at] += acc;
    } else {
        c[at] = acc;
    }
}
