// The split-K step of step_splitk.wgsl for devices with subgroup operations: each subgroup adds
// its invocations' partial gate sums with subgroupAdd, so only one row per subgroup goes through
// workgroup memory before the first UNIT_BLOCK invocations finish the sums and update the cells.

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
    let acc = splitk_partials(i, j0, wid.y, wid.z);
    for (var u = 0u; u < UNIT_BLOCK; u++) {
        let total = subgroupAdd(acc[u]);
        if (lane == 0u) {
            partial[subgroup][u] = total;
        }
    }
    workgroupBarrier();
    if (i < UNIT_BLOCK && j0 + i < p.hidden) {
        var sum = vec4<f32>(0.0);
        for (var s = 0u; s < subgroups; s++) {
            sum += partial[s][i];
        }
        splitk_finish(j0 + i, wid.y, wid.z, sum);
    }
}
