// The two halves of a split-K step (step_splitk*.wgsl; layer by layer only), around the
// reduction that differs: a workgroup owns UNIT_BLOCK hidden units of one batch element in one
// direction of layer p.layer, and invocation i
// sums the recurrent products for k = i, i + SPLIT, ...

const SPLIT: u32 = 64u;
const UNIT_BLOCK: u32 = 8u;

// Invocation i's partial gate sums for units j0..j0+UNIT_BLOCK of batch element b, direction d
// (zero for a sequence that has finished).
fn splitk_partials(i: u32, j0: u32, b: u32, d: u32) -> array<vec4<f32>, 8> {
    var acc: array<vec4<f32>, 8>;
    if (p.step < seq_lens[b]) {
        let h_at = h_half(p, p.layer, p.step & 1u) + (d * p.batch + b) * p.out_size;
        let r_col = r_base(p, p.layer) + d * p.out_size * p.hidden;
        for (var k = i; k < p.out_size; k += SPLIT) {
            let hv = vec4<f32>(state[h_at + k]);
            for (var u = 0u; u < UNIT_BLOCK; u++) {
                acc[u] = fma(hv, r[r_col + k * p.hidden + min(j0 + u, p.hidden - 1u)], acc[u]);
            }
        }
    }
    return acc;
}

// Add the input projection to unit j's reduced recurrent sum and update its cell.
fn splitk_finish(j: u32, b: u32, d: u32, recurrent: vec4<f32>) {
    var z = recurrent;
    if (p.step < seq_lens[b]) {
        let t = seq_t(p, d, p.step, seq_lens[b]);
        z += xp[seq_row(p, t, b) * p.directions * p.hidden + d * p.hidden + j];
    }
    update(j, b, d, p.layer, p.step, z);
}
