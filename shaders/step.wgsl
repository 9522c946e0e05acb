// One timestep of one layer, all directions at once: the recurrent product h_{t-1}·Rᵀ for the four
// gates, plus the cell update (shared/cell.wgsl), in a single dispatch.
//
// Invocation (j-block, b-block, d) owns UNITS hidden units of BATCH_BLOCK consecutive batch
// elements in direction d and computes all four gates of each, so gate values never leave
// registers; each loaded R vec4 feeds BATCH_BLOCK multiply-adds and each loaded h value UNITS
// (1 and 1 suit small batches on GPUs; larger blocks suit large batches, and adapters that run
// invocations as SIMD lanes of a CPU).

const WG: u32 = 64u;

// Batch elements per invocation, 1..=8.
override BATCH_BLOCK: u32 = 1u;
// Hidden units per invocation, 1 or 2.
override UNITS: u32 = 1u;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j0 = gid.x * UNITS;
    let d = gid.z;
    let b0 = gid.y * BATCH_BLOCK;
    let hidden = p.hidden;
    if (j0 >= hidden) {
        return;
    }
    let reversed = ((p.reverse_mask >> d) & 1u) == 1u;

    // Gates start from the hoisted input projection; elements past B or past their length, and a
    // unit past H, read the last one's values (harmless) and are skipped below. z[u·8 + bb].
    var z: array<vec4<f32>, 16>;
    var h_at: array<u32, 8>;
    var r_col: array<u32, 2>;
    for (var u = 0u; u < UNITS; u++) {
        r_col[u] = d * p.out_size * hidden + min(j0 + u, hidden - 1u);
    }
    for (var bb = 0u; bb < BATCH_BLOCK; bb++) {
        let b = min(b0 + bb, p.batch - 1u);
        let len = seq_lens[b];
        h_at[bb] = h_half(p, p.step & 1u) + (d * p.batch + b) * p.out_size;
        if (p.step < len) {
            let t = select(p.step, len - 1u - p.step, reversed);
            let row = seq_row(p, t, b) * p.directions * hidden + d * hidden;
            for (var u = 0u; u < UNITS; u++) {
                z[u * 8u + bb] = xp[row + min(j0 + u, hidden - 1u)];
            }
        }
    }
    for (var k = 0u; k < p.out_size; k++) {
        var rk: array<vec4<f32>, 2>;
        for (var u = 0u; u < UNITS; u++) {
            rk[u] = r[r_col[u] + k * hidden];
        }
        for (var bb = 0u; bb < BATCH_BLOCK; bb++) {
            let hv = vec4<f32>(state[h_at[bb] + k]);
            for (var u = 0u; u < UNITS; u++) {
                z[u * 8u + bb] = fma(hv, rk[u], z[u * 8u + bb]);
            }
        }
    }
    for (var bb = 0u; bb < BATCH_BLOCK; bb++) {
        for (var u = 0u; u < UNITS; u++) {
            if (b0 + bb < p.batch && j0 + u < hidden) {
                update(j0 + u, b0 + bb, d, reversed, z[u * 8u + bb]);
            }
        }
    }
}
