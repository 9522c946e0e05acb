// The LSTM projection (PyTorch proj_size) of one timestep, all directions: h = W_hr·m with
// m = o⊙h(c) left by the step (shared/cell.wgsl), written to the next h half and to Y.
// Invocation (q, b, d) computes output q of batch element b in direction d. W_hr is stored
// transposed per direction, weight (d·H + j)·P + q, so invocations with neighbouring q read
// neighbouring values.
// Sequence lengths follow shared/cell.wgsl: a finished sequence carries h and writes 0 to Y row s.

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: StepParams;
@group(0) @binding(1) var<storage, read> seq_lens: array<u32>;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let q = gid.x;
    let bd = unfold_yz(gid, nwg, p.grid_z);
    let b = bd.x;
    let d = bd.y;
    let out_size = p.out_size;
    if (q >= out_size || b >= p.batch) {
        return;
    }
    let len = seq_lens[b];
    let l = p.layer;
    let s = p.step;
    let slot = d * p.batch + b;
    let h_next = h_half(p, l, (s + 1u) & 1u) + slot * out_size + q;
    let row_width = p.directions * out_size;
    let y_at = y_base(p, l) + d * out_size + q;

    if (s >= len) {
        state[h_next] = state[h_half(p, l, s & 1u) + slot * out_size + q];
        y[y_at + seq_row(p, s, b) * row_width] = 0.0;
        return;
    }
    let t = seq_t(p, d, s, len);

    let m = m_base(p, l) + slot * p.hidden;
    let w_col = d * p.hidden * out_size + q;
    // Output q's scale (int8 weights; 1 otherwise) holds for every j.
    let w_scale = weight_scale(w_col);
    var h = 0.0;
    for (var j = 0u; j < p.hidden; j++) {
        h = fma(state[m + j], weight_raw(w_col + j * out_size) * w_scale, h);
    }
    state[h_next] = h;
    y[y_at + seq_row(p, t, b) * row_width] = h;
}
