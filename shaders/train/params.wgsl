// The training kernels' uniform blocks: one struct per kind of kernel, bound at binding 0 as `p`
// by the kernels that read it. Mirrored field by field by src/train/gpu/params.rs (the unit tests
// compare every member's name and offset). SEQ_GROUP, the sequences one workgroup of a sequence
// kernel runs, comes from the part the registry composes in front: seq_group_1.wgsl or
// seq_group_8.wgsl.

// One activation of a direction: its kind (shared/activations.wgsl) with alpha and beta.
struct Activation {
    kind: u32,
    alpha: f32,
    beta: f32,
    _pad: u32,
}

// The sequence kernels (forward.wgsl, backward.wgsl), for one layer.
struct SeqParams {
    seq_len: u32,       // T
    batch: u32,         // B
    hidden: u32,        // H
    out: u32,           // P (H without projection)
    dirs: u32,          // D
    reverse_mask: u32,  // bit d: direction d reads the sequence backwards
    stride_t: u32,      // row of (t, b) is t·stride_t + b·stride_b
    stride_b: u32,
    input_forget: u32,  // 1: f = 1 − i
    clip: f32,          // 0: none
    flags: u32,         // FLAG_* below
    state_slot: u32,    // l·D·B: the layer's first state slot
    h0: u32,            // offsets in the state buffer (forward) or the state-gradient buffer (backward)
    c0: u32,
    hn: u32,
    cn: u32,
    t_y: u32,           // offsets of this layer's record in the tape
    t_z: u32,
    t_c: u32,
    t_cprev: u32,
    t_hprev: u32,
    t_m: u32,
    w_dg: u32,          // backward: offsets in the work buffer
    w_dh: u32,
    w_dcarry: u32,
    w_peep: u32,
    w_hh: vec2<u32>,    // offsets of direction d's tensors in the weights
    b_ih: vec2<u32>,
    b_hh: vec2<u32>,
    peep: vec2<u32>,
    w_hr: vec2<u32>,
    act: array<Activation, 6>, // direction d's (f, g, h) at 3·d
}

const FLAG_BIAS: u32 = 1u;
const FLAG_PEEPHOLE: u32 = 2u;
const FLAG_PROJECTION: u32 = 4u;
const FLAG_RESET_BEFORE: u32 = 8u; // a GRU without linear_before_reset: R_n multiplies r⊙h

// The GEMMs (gemm.wgsl, gemm_direct.wgsl): C = A·B or C += A·B over strided views,
// A[m, k] = a[a_off + m·a_rs + k·a_cs], B[k, n] = b[b_off + k·b_rs + n·b_cs],
// C[m, n] = c[c_off + m·c_rs + n].
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    a_off: u32,
    a_rs: u32,
    a_cs: u32,
    b_off: u32,
    b_rs: u32,
    b_cs: u32,
    c_off: u32,
    c_rs: u32,
    accumulate: u32,
}

// transpose.wgsl: dst[dst_off + c·rows + r] = src[src_off + r·cols + c].
struct TransposeParams {
    rows: u32,
    cols: u32,
    src_off: u32,
    dst_off: u32,
}

// The optimizer (norm.wgsl, update.wgsl).
struct OptimizerParams {
    count: u32,
    kind: u32,          // 0 SGD, 1 Adam
    lr: f32,
    momentum: f32,      // SGD momentum, or Adam β₁
    beta2: f32,
    eps: f32,
    correct1: f32,      // 1 − β₁ᵗ
    correct2: f32,      // 1 − β₂ᵗ
    max_norm: f32,      // 0: no clipping
}
