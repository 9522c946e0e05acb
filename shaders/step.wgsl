// One timestep of one layer, all directions at once: the recurrent product h_{t-1}·Rᵀ for the four
// gates, plus the cell and hidden update, in a single dispatch.
//
// Invocation (j, b, d) owns hidden unit j of batch element b in direction d and computes all four
// of its gates, so gate values never leave registers. R is gate-interleaved and k-major:
// r[(d·H + k)·H + j] is the vec4 (i, f, g, o) of unit j for recurrent input k, so invocations with
// neighbouring j read neighbouring vec4s; XP rows are unit-major vec4s in the same way.
//
// State buffer: [h half 0 | h half 1 | c], each [D][B][H]. Step s reads h from half s%2 and writes
// half (s+1)%2, because every invocation reads all of h_{t-1}; c belongs to one invocation and is
// updated in place.
//
// Sequence lengths: sequence b is valid at step s while s < len_b. The forward direction visits
// t = s, the reverse one t = len_b - 1 - s (it starts at the last valid step). Once finished, a
// sequence carries its state unchanged and writes 0 to Y row s, the one row past its length that
// this step would otherwise leave stale; over T steps every Y row is written exactly once.

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: StepParams;
@group(0) @binding(1) var<storage, read> xp: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> r: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> seq_lens: array<u32>;
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let b = gid.y;
    let d = gid.z;
    let hidden = p.hidden;
    if (j >= hidden) {
        return;
    }
    let dbh = p.directions * p.batch * hidden;
    let unit = (d * p.batch + b) * hidden + j;
    let h_prev = (p.step & 1u) * dbh;
    let h_next = ((p.step + 1u) & 1u) * dbh;
    let c_at = 2u * dbh + unit;
    let row_width = p.directions * hidden;
    let len = seq_lens[b];

    if (p.step >= len) {
        state[h_next + unit] = state[h_prev + unit];
        y[(p.step * p.stride_t + b * p.stride_b) * row_width + d * hidden + j] = 0.0;
        return;
    }

    let reversed = ((p.reverse_mask >> d) & 1u) == 1u;
    let t = select(p.step, len - 1u - p.step, reversed);
    let row = t * p.stride_t + b * p.stride_b;

    var z = xp[row * row_width + d * hidden + j];
    let h_row = h_prev + (d * p.batch + b) * hidden;
    let r_col = d * hidden * hidden + j;
    for (var k = 0u; k < hidden; k++) {
        z = fma(vec4<f32>(state[h_row + k]), r[r_col + k * hidden], z);
    }

    let c = sigmoid(z.y) * state[c_at] + sigmoid(z.x) * tanh_saturating(z.z);
    let h = sigmoid(z.w) * tanh_saturating(c);
    state[c_at] = c;
    state[h_next + unit] = h;
    y[row * row_width + d * hidden + j] = h;
}
