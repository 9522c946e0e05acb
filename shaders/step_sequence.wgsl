// A layer's whole sequence in one dispatch, for small models, where a dispatch per timestep costs
// more than its work. Workgroup (b, d) runs every step of batch element b in direction d; its
// invocations share the hidden units (unit j is invocation j % SEQ_WG's). Each step first stages
// h (P values, from the h halves of shared/cell.wgsl) in workgroup memory, so every unit reads
// it from there, then updates its units' cells; a storage barrier ends the step, because every
// unit's next step reads all of the h it wrote. Workgroups never wait for each other: batch
// elements and directions are independent, so this is legal on every adapter. Layer by layer
// only, without a projection (whose output needs every unit's m before the next step), and for
// P ≤ SEQ_MAX_P. R streams from memory every step; step_sequence_resident.wgsl keeps it in
// registers instead. It is the kernel of a GRU without linear_before_reset, whose second
// product needs every unit's reset gate first (reset_step).

const SEQ_WG: u32 = 128u;
const SEQ_MAX_P: u32 = 2048u;
// The most units one invocation owns.
const SEQ_UNITS: u32 = SEQ_MAX_P / SEQ_WG;

var<workgroup> h_step: array<f32, SEQ_MAX_P>;

// One step of a cell that scales h before its second product (a GRU without
// linear_before_reset, shared/cell.wgsl): the sums of every unit the invocation owns (lane w,
// R_n·h, unused), then once every invocation has read h_step, h_step scaled in place by each
// unit's reset gate, then lane w as R_n·(r⊙h) from it. Units j = first, first + SEQ_WG, … up to
// SEQ_MAX_P / SEQ_WG of them.
fn reset_step(first: u32, b: u32, d: u32, l: u32, s: u32, r_col: u32, row: u32) {
    let hidden = p.hidden;
    var sums: array<vec4<f32>, SEQ_UNITS>;
    var u = 0u;
    for (var j = first; j < hidden; j += SEQ_WG) {
        var z = xp[(row * p.directions + d) * hidden + j];
        let r_scale = weight4_scale(r_col + j);
        for (var k = 0u; k < p.out_size; k++) {
            z = fma(vec4<f32>(h_step[k]), weight4_raw(r_col + k * hidden + j) * r_scale, z);
        }
        sums[u] = z;
        u++;
    }
    workgroupBarrier();
    u = 0u;
    for (var j = first; j < hidden; j += SEQ_WG) {
        h_step[j] *= reset_gate(d, sums[u]);
        u++;
    }
    workgroupBarrier();
    u = 0u;
    for (var j = first; j < hidden; j += SEQ_WG) {
        var w = 0.0;
        let r_scale = weight4_scale(r_col + j);
        for (var k = 0u; k < p.out_size; k++) {
            w = fma(h_step[k], (weight4_raw(r_col + k * hidden + j) * r_scale).w, w);
        }
        var z = sums[u];
        z.w = w;
        update(j, b, d, l, s, z);
        u++;
    }
}

@compute @workgroup_size(SEQ_WG, 1, 1)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let bd = unfold_yz(wid, nwg, p.grid_z);
    let b = bd.x;
    let d = bd.y;
    if (b >= p.batch) {
        return;
    }
    let l = p.layer;
    let hidden = p.hidden;
    let len = max(seq_lens[b], 1u);
    let r_col = r_base(p, l) + d * p.out_size * hidden;
    for (var s = 0u; s < p.seq_len; s++) {
        let h_at = h_half(p, l, s & 1u) + (d * p.batch + b) * p.out_size;
        for (var q = lid.x; q < p.out_size; q += SEQ_WG) {
            h_step[q] = state[h_at + q];
        }
        workgroupBarrier();
        // Past its length a sequence reads any valid row (update() ignores z then), so no branch
        // on the length makes the loads below divergent.
        let row = seq_row(p, seq_t(p, d, min(s, len - 1u), len), b);
        if (RESET_BEFORE_PRODUCT) {
            reset_step(lid.x, b, d, l, s, r_col, row);
        } else {
            for (var j = lid.x; j < hidden; j += SEQ_WG) {
                var z = xp[(row * p.directions + d) * hidden + j];
                // Unit j's scales (int8 weights; 1 otherwise) hold for every k.
                let r_scale = weight4_scale(r_col + j);
                for (var k = 0u; k < p.out_size; k++) {
                    z = fma(vec4<f32>(h_step[k]), weight4_raw(r_col + k * hidden + j) * r_scale, z);
                }
                update(j, b, d, l, s, z);
            }
        }
        storageBarrier();
    }
}
