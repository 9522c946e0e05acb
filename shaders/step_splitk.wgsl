// One timestep, matrix-vector variant for small batches: a workgroup owns UNIT_BLOCK hidden units
// of one batch element in one direction and splits the recurrent sum over k across its SPLIT
// invocations (shared/splitk.wgsl), so short sequences of wide layers still fill a GPU. The
// partial gate sums meet in workgroup memory; the first UNIT_BLOCK invocations add them up and
// run the cell update for one unit each.

var<workgroup> partial: array<array<vec4<f32>, 8>, 64>;

@compute @workgroup_size(SPLIT, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let i = lid.x;
    let j0 = wid.x * UNIT_BLOCK;
    let acc = splitk_partials(i, j0, wid.y, wid.z);
    for (var u = 0u; u < UNIT_BLOCK; u++) {
        partial[i][u] = acc[u];
    }
    workgroupBarrier();
    if (i < UNIT_BLOCK && j0 + i < p.hidden) {
        var sum = vec4<f32>(0.0);
        for (var s = 0u; s < SPLIT; s++) {
            sum += partial[s][i];
        }
        splitk_finish(j0 + i, wid.y, wid.z, sum);
    }
}
