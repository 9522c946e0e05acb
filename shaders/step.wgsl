// One timestep of one layer, all directions at once: the recurrent product h_{t-1}·Rᵀ for the four
// gates, plus the cell update (shared/cell.wgsl), in a single dispatch.
//
// Invocation (j-block, b-block, z) owns UNITS hidden units of BATCH_BLOCK consecutive batch
// elements and computes all four gates of each, so gate values never leave registers; each loaded
// R vec4 feeds BATCH_BLOCK multiply-adds and each loaded h value UNITS (1 and 1 suit small batches
// on GPUs; larger blocks suit large batches, and adapters that run invocations as SIMD lanes of a
// CPU).
//
// Layer by layer, z is the direction d and the dispatch runs step p.step of layer p.layer.
// Wavefront (WAVEFRONT; one direction, no projection): dispatch k runs every layer l with
// 0 ≤ k − l < T at its step k − l, z counting layers from p.layer, so a stack of L layers takes
// T + L − 1 dispatches. Layer l ≥ 1 reads its input, Y of layer l − 1 at the same timestep, which
// the previous dispatch wrote, and multiplies it by its input weights here: after layer l's R and
// peepholes in the stacked weights come W_ih at w0 + k·H + j (the layout of R) and the summed
// biases at w0 + H·H + j. Layer l writes Y half l % 2; in one dispatch the layers sharing a half
// write rows of different steps, and a row is overwritten only after the layer above has read it.

const WG: u32 = 64u;

// Batch elements per invocation, 1..=8.
override BATCH_BLOCK: u32 = 1u;
// Hidden units per invocation, 1 or 2.
override UNITS: u32 = 1u;
override WAVEFRONT: bool = false;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j0 = gid.x * UNITS;
    let bz = unfold_yz(gid, nwg, p.grid_z);
    var d = bz.y;
    var l = p.layer;
    var s = p.step;
    if (WAVEFRONT) {
        d = 0u;
        l = p.layer + bz.y;
        s = p.step - l;
    }
    let b0 = bz.x * BATCH_BLOCK;
    let hidden = p.hidden;
    if (j0 >= hidden || b0 >= p.batch) {
        return;
    }
    let inline_input = WAVEFRONT && l > 0u;
    let r0 = r_base(p, l);
    // Layer l ≥ 1's input weights and biases (wavefront).
    let w0 = r0 + (p.out_size + 1u) * hidden;

    // Gates start from the hoisted input projection, or the biases; elements past B or past their
    // length, and a unit past H, read the last one's values (harmless) and are skipped below.
    // z[u·8 + bb].
    var z: array<vec4<f32>, 16>;
    var h_at: array<u32, 8>;
    var x_at: array<u32, 8>;
    // Unit j0 + u (clamped), and its column of R.
    var unit: array<u32, 2>;
    var r_col: array<u32, 2>;
    // The scales of its columns of R (int8 weights; 1 otherwise), which hold for every k.
    var r_scale: array<vec4<f32>, 2>;
    for (var u = 0u; u < UNITS; u++) {
        unit[u] = min(j0 + u, hidden - 1u);
        r_col[u] = r0 + d * p.out_size * hidden + unit[u];
        r_scale[u] = weight4_scale(r_col[u]);
    }
    for (var bb = 0u; bb < BATCH_BLOCK; bb++) {
        let b = min(b0 + bb, p.batch - 1u);
        let len = seq_lens[b];
        h_at[bb] = h_half(p, l, s & 1u) + (d * p.batch + b) * p.out_size;
        if (s < len) {
            let row = seq_row(p, seq_t(p, d, s, len), b);
            if (inline_input) {
                x_at[bb] = y_base(p, l - 1u) + row * hidden;
            }
            for (var u = 0u; u < UNITS; u++) {
                if (inline_input) {
                    z[u * 8u + bb] = weight4(w0 + hidden * hidden + unit[u]);
                } else {
                    z[u * 8u + bb] = xp[(row * p.directions + d) * hidden + unit[u]];
                }
            }
        }
    }
    if (inline_input) {
        var w_scale: array<vec4<f32>, 2>;
        for (var u = 0u; u < UNITS; u++) {
            w_scale[u] = weight4_scale(w0 + unit[u]);
        }
        for (var k = 0u; k < hidden; k++) {
            var wk: array<vec4<f32>, 2>;
            for (var u = 0u; u < UNITS; u++) {
                wk[u] = weight4_raw(w0 + k * hidden + unit[u]) * w_scale[u];
            }
            for (var bb = 0u; bb < BATCH_BLOCK; bb++) {
                let xv = vec4<f32>(y[x_at[bb] + k]);
                for (var u = 0u; u < UNITS; u++) {
                    z[u * 8u + bb] = fma(xv, wk[u], z[u * 8u + bb]);
                }
            }
        }
    }
    for (var k = 0u; k < p.out_size; k++) {
        var rk: array<vec4<f32>, 2>;
        for (var u = 0u; u < UNITS; u++) {
            rk[u] = weight4_raw(r_col[u] + k * hidden) * r_scale[u];
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
                update(j0 + u, b0 + bb, d, l, s, z[u * 8u + bb]);
            }
        }
    }
}
