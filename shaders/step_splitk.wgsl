// One timestep, matrix-vector variant for small batches (1 to 16): a workgroup owns SPLIT_UNITS
// hidden units of SPLIT_BATCH batch elements in one direction, and its SPLIT_UNITS × SPLIT_K
// invocations split the recurrent sum over k. Invocation i is unit u = i % SPLIT_UNITS of k-slice
// s = i / SPLIT_UNITS and sums k = s, s + SPLIT_K, ..., so neighbouring invocations read
// neighbouring vec4s of R, and each vec4 of R it loads feeds all SPLIT_BATCH batch elements. The
// partial sums meet in workgroup memory; the first SPLIT_UNITS · SPLIT_BATCH invocations, which
// read their unit's input projection, cell state and sequence length before the k loop, add
// them up and update the cells (shared/cell.wgsl). Layer by layer only.

const SPLIT_WG: u32 = 128u;
const SPLIT_MAX_BATCH: u32 = 4u;
// Units per workgroup; SPLIT_K = SPLIT_WG / SPLIT_UNITS slices of k.
override SPLIT_UNITS: u32 = 16u;
// Batch elements per workgroup, 1..=SPLIT_MAX_BATCH.
override SPLIT_BATCH: u32 = 1u;

var<workgroup> partial: array<vec4<f32>, SPLIT_WG * SPLIT_MAX_BATCH>; // [s][u][bb]

@compute @workgroup_size(SPLIT_WG, 1, 1)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let bd = unfold_yz(wid, nwg, p.grid_z);
    if (bd.x * SPLIT_BATCH >= p.batch) {
        return;
    }
    let split_k = SPLIT_WG / SPLIT_UNITS;
    let i = lid.x;
    let u = i % SPLIT_UNITS;
    let slice = i / SPLIT_UNITS;
    let j = wid.x * SPLIT_UNITS + u;
    let b0 = bd.x * SPLIT_BATCH;
    let d = bd.y;
    let l = p.layer;
    let s = p.step;
    let hidden = p.hidden;
    let unit = min(j, hidden - 1u);

    // The finishing invocations fetch what the cell update needs first.
    let finisher = i < SPLIT_UNITS * SPLIT_BATCH;
    let fb = min(b0 + i / SPLIT_UNITS, p.batch - 1u);
    var len = 0u;
    var c_prev = 0.0;
    var xp_z = vec4<f32>(0.0);
    if (finisher) {
        len = seq_lens[fb];
        c_prev = state[c_base(p, l) + (d * p.batch + fb) * hidden + unit];
        if (s < len) {
            xp_z = xp[(seq_row(p, seq_t(p, d, s, len), fb) * p.directions + d) * hidden + unit];
        }
    }

    var acc: array<vec4<f32>, SPLIT_MAX_BATCH>;
    var h_at: array<u32, SPLIT_MAX_BATCH>;
    for (var bb = 0u; bb < SPLIT_BATCH; bb++) {
        let b = min(b0 + bb, p.batch - 1u);
        h_at[bb] = h_half(p, l, s & 1u) + (d * p.batch + b) * p.out_size;
    }
    let r_col = r_base(p, l) + d * p.out_size * hidden + unit;
    let r_scale = weight4_scale(r_col);
    for (var k = slice; k < p.out_size; k += split_k) {
        let rk = weight4_raw(r_col + k * hidden) * r_scale;
        for (var bb = 0u; bb < SPLIT_BATCH; bb++) {
            acc[bb] = fma(vec4<f32>(state[h_at[bb] + k]), rk, acc[bb]);
        }
    }
    for (var bb = 0u; bb < SPLIT_BATCH; bb++) {
        partial[(slice * SPLIT_UNITS + u) * SPLIT_MAX_BATCH + bb] = acc[bb];
    }
    workgroupBarrier();
    let bb = i / SPLIT_UNITS;
    if (finisher && j < hidden && b0 + bb < p.batch) {
        var z = xp_z;
        for (var t = 0u; t < split_k; t++) {
            z += partial[(t * SPLIT_UNITS + u) * SPLIT_MAX_BATCH + bb];
        }
        update_from(j, b0 + bb, d, l, s, z, len, c_prev);
    }
}
