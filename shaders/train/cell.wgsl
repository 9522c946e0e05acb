// What the training forward and backward share: their parameters, the activations with their
// derivatives (so that both see the same clip and activation choices, and the cell bodies in
// train/cells/ use them), what a cell body returns, and which sequences a workgroup runs.

@group(0) @binding(0) var<uniform> p: SeqParams;

const SEQ_WORKGROUP: u32 = 64u;

fn has(flag: u32) -> bool {
    return (p.flags & flag) != 0u;
}

// The timestep that step s of direction d visits in a sequence of length len.
fn step_time(d: u32, s: u32, len: u32) -> u32 {
    let reversed = ((p.reverse_mask >> d) & 1u) == 1u;
    return select(s, len - 1u - s, reversed);
}

fn row_of(t: u32, b: u32) -> u32 {
    return t * p.stride_t + b * p.stride_b;
}

// Where (row, direction) of sequence `b` at step `s` of a sequence of `len` steps sits.
fn at_step(d: u32, b: u32, s: u32, len: u32) -> u32 {
    return row_of(step_time(d, s, len), b) * p.dirs + d;
}

// Derivative of `activate` (shared/activations.wgsl), taking the branch it takes at kinks.
fn activate_slope(kind: u32, alpha: f32, beta: f32, x: f32) -> f32 {
    switch kind {
        case SIGMOID: { let s = sigmoid(x); return s * (1.0 - s); }
        case TANH: { let t = tanh_saturating(x); return 1.0 - t * t; }
        case RELU: { return select(0.0, 1.0, x > 0.0); }
        case AFFINE: { return alpha; }
        case LEAKY_RELU: { return select(alpha, 1.0, x >= 0.0); }
        case THRESHOLDED_RELU: { return select(0.0, 1.0, x >= alpha); }
        case SCALED_TANH: { let t = tanh_saturating(beta * x); return alpha * beta * (1.0 - t * t); }
        case HARD_SIGMOID: { let y = alpha * x + beta; return select(0.0, alpha, y > 0.0 && y < 1.0); }
        case ELU: { return select(alpha * exp(min(x, 0.0)), 1.0, x >= 0.0); }
        case SOFTSIGN: { let q = 1.0 + abs(x); return 1.0 / (q * q); }
        case SOFTPLUS, default: { return sigmoid(x); }
    }
}

// Activation `which` (0 f, 1 g, 2 h) of direction d at x: (value, slope).
fn act(d: u32, which: u32, x: f32) -> vec2<f32> {
    let a = p.act[3u * d + which];
    return vec2<f32>(activate(a.kind, a.alpha, a.beta, x), activate_slope(a.kind, a.alpha, a.beta, x));
}

// Activation `which` of direction d after the clip: (value, slope), the slope 0 where the clip
// holds x.
fn clipped_act(d: u32, which: u32, x: f32) -> vec2<f32> {
    let limit = p.clip;
    var v = x;
    var inside = 1.0;
    if (limit > 0.0) {
        inside = select(0.0, 1.0, abs(x) <= limit);
        v = clamp(x, -limit, limit);
    }
    let a = act(d, which, v);
    return vec2<f32>(a.x, a.y * inside);
}

// A unit's lanes from its gates' R·h, XP (W·x) and biases: their sums, but for a cell whose
// candidate keeps its input and recurrent parts apart (SPLIT_CANDIDATE, the GRU), whose lane z
// is gate 2's W·x + Wb and lane w its R·h + Rb.
fn lanes_of(rh: vec4<f32>, xp: vec4<f32>, b_ih: vec4<f32>, b_hh: vec4<f32>) -> vec4<f32> {
    var z = rh + xp + b_ih + b_hh;
    if (SPLIT_CANDIDATE) {
        z.z = xp.z + b_ih.z;
        z.w = rh.z + b_hh.z;
    }
    return z;
}

// The dgates lane that row block k of R multiplies into dL/dh_{t−1} and dR: the gate's own, but
// lane w for a split candidate, and none (LANES) where R_n multiplies r⊙h (FLAG_RESET_BEFORE,
// which the carry handles).
fn recurrent_lane(k: u32) -> u32 {
    if (!SPLIT_CANDIDATE || k < 2u) {
        return k;
    }
    return select(3u, LANES, has(FLAG_RESET_BEFORE));
}

// The GRU's reset gate r (value, slope) from a unit's lanes: what scales h_{t−1} before R_n's
// product under FLAG_RESET_BEFORE, which only a GRU sets.
fn reset_gate(d: u32, z: vec4<f32>) -> vec2<f32> {
    return clipped_act(d, 0u, z.y);
}

// What a cell body's unit_forward returns.
struct UnitForward {
    z: vec4<f32>, // the lanes the tape keeps (pre-activations, before clip)
    c: f32,       // c_t (0 without a cell state)
    m: f32,       // the unit's output: h, or what the projection reads
}

// What a cell body's unit_backward returns.
struct UnitBackward {
    dz: vec4<f32>,    // dL/d each lane
    carry: f32,       // dL/dc_{t−1} or, without a cell state, the part of dL/dh_{t−1} that skips R
    dpeep: vec3<f32>, // this step's share of the peepholes' gradients
}

// The direction and group of sequences of a sequence kernel's workgroup (one per pair,
// direction-major; groups of SEQ_GROUP consecutive sequences, the last one shorter), and the
// length of the group's longest sequence, read from the kernel's `lens` binding and shared as a
// uniform value (the step loops run to it, with barriers).
struct SequenceGroup {
    d: u32,
    b0: u32,
    count: u32,
    longest: u32,
}

var<workgroup> wg_longest: u32;

fn sequence_group(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> SequenceGroup {
    let batch = p.batch;
    let groups = (batch + SEQ_GROUP - 1u) / SEQ_GROUP;
    // An x extent past the device's limit continues in y (src/backend/gpu/grid.rs); past the last pair,
    // d reaches DIRS and the kernel returns.
    let pair = wid.x + nwg.x * wid.y;
    let b0 = (pair % groups) * SEQ_GROUP;
    let count = min(SEQ_GROUP, batch - b0);
    if (lid == 0u) {
        var longest = 0u;
        for (var g = 0u; g < count; g++) {
            longest = max(longest, lens[b0 + g]);
        }
        wg_longest = longest;
    }
    return SequenceGroup(pair / groups, b0, count, workgroupUniformLoad(&wg_longest));
}

// Sequence g of a group; past the group's last (a shorter last group), the last again, so that
// loops over a whole group (constant trip counts, which the compiler unrolls into registers) read
// valid rows. Such duplicates must not write: see `writes`.
fn member(group: SequenceGroup, g: u32) -> u32 {
    return group.b0 + min(g, group.count - 1u);
}

// Whether slot g of the group is a sequence of its own (not a duplicate of the last).
fn writes(group: SequenceGroup, g: u32) -> bool {
    return g < group.count;
}
