// The split-K step of step_splitk.wgsl for devices with subgroup operations: each subgroup adds
// its invocations' partial gate sums with subgroupAdd, so only one row per subgroup goes through
// workgroup memory before the first UNIT_BLOCK invocations finish the sums and update the cells.

const SPLIT: u32 = 64u;
const UNIT_BLOCK: u32 = 8u;

var<workgroup> partial: array<array<vec4<f32>, 8>, 64>;

@compute @workgroup_size(SPLIT, 1, 1)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(num_subgroups) subgroups: u32,
) {
    let i = lid.x;
    let j0 = wid.x * UNIT_BLOCK;
    let b = wid.y;
    let d = wid.z;
    let hidden = p.hidden;
    let reversed = ((p.reverse_mask >> d) & 1u) == 1u;
    let running = p.step < seq_lens[b];

    var acc: array<vec4<f32>, 8>;
    if (running) {
        let h_at = h_half(p, p.step & 1u) + (d * p.batch + b) * p.out_size;
        let r_base = d * p.out_size * hidden;
        for (var k = i; k < p.out_size; k += SPLIT) {
            let hv = vec4<f32>(state[h_at + k]);
            for (var u = 0u; u < UNIT_BLOCK; u++) {
                acc[u] = fma(hv, r[r_base + k * hidden + min(j0 + u, hidden - 1u)], acc[u]);
            }
        }
    }
    for (var u = 0u; u < UNIT_BLOCK; u++) {
        let total = subgroupAdd(acc[u]);
        if (lane == 0u) {
            partial[subgroup][u] = total;
        }
    }
    workgroupBarrier();

    let j = j0 + i;
    if (i < UNIT_BLOCK && j < hidden) {
        var z = vec4<f32>(0.0);
        if (running) {
            let t = select(p.step, seq_lens[b] - 1u - p.step, reversed);
            z = xp[seq_row(p, t, b) * p.directions * hidden + d * hidden + j];
        }
        for (var s = 0u; s < subgroups; s++) {
            z += partial[s][i];
        }
        update(j, b, d, reversed, z);
    }
}
