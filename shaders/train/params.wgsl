// Training kernels read their sizes and offsets as words of one uniform block, named here.
// Keep in sync with src/train/gpu/kernels.rs. SEQ_GROUP, the sequences one workgroup of a
// sequence kernel runs, comes from the part the registry composes in front: seq_group_1.wgsl or
// seq_group_8.wgsl.

@group(0) @binding(0) var<uniform> u: array<vec4<u32>, 16>;

fn word(i: u32) -> u32 {
    return u[i / 4u][i % 4u];
}

fn word_f32(i: u32) -> f32 {
    return bitcast<f32>(word(i));
}

// Sequence kernels (forward.wgsl, backward.wgsl).
const SEQ_LEN: u32 = 0u;       // T
const BATCH: u32 = 1u;         // B
const HIDDEN: u32 = 2u;        // H
const OUT: u32 = 3u;           // P (H without projection)
const DIRS: u32 = 4u;          // D
const REVERSE_MASK: u32 = 5u;  // bit d: direction d reads the sequence backwards
const STRIDE_T: u32 = 6u;      // row of (t, b) is t·STRIDE_T + b·STRIDE_B
const STRIDE_B: u32 = 7u;
const INPUT_FORGET: u32 = 8u;  // 1: f = 1 − i
const CLIP: u32 = 9u;          // f32 bits; 0 for none
const FLAGS: u32 = 10u;        // FLAG_* below
const STATE_SLOT: u32 = 11u;   // l·D·B: the layer's first state slot
const H0: u32 = 12u;           // offsets in the state buffer (forward) or the state-gradient buffer (backward)
const C0: u32 = 13u;
const HN: u32 = 14u;
const CN: u32 = 15u;
const T_Y: u32 = 16u;          // offsets of this layer's record in the tape
const T_Z: u32 = 17u;
const T_C: u32 = 18u;
const T_CPREV: u32 = 19u;
const T_HPREV: u32 = 20u;
const T_M: u32 = 21u;
const W_DG: u32 = 22u;         // backward: offsets in the work buffer
const W_DH: u32 = 23u;
const W_DCARRY: u32 = 24u;
const W_PEEP: u32 = 25u;
const P_W_HH: u32 = 26u;       // offsets of direction d's tensors in the weights: word + d
const P_B_IH: u32 = 28u;
const P_B_HH: u32 = 30u;
const P_PEEP: u32 = 32u;
const P_W_HR: u32 = 34u;
const ACT: u32 = 36u;          // direction d's (f, g, h): 9 words from ACT + 9·d, each kind, alpha bits, beta bits

const FLAG_BIAS: u32 = 1u;
const FLAG_PEEPHOLE: u32 = 2u;
const FLAG_PROJECTION: u32 = 4u;

const SEQ_WORKGROUP: u32 = 64u;

fn has(flag: u32) -> bool {
    return (word(FLAGS) & flag) != 0u;
}

// The timestep that step s of direction d visits in a sequence of length len.
fn step_time(d: u32, s: u32, len: u32) -> u32 {
    let reversed = ((word(REVERSE_MASK) >> d) & 1u) == 1u;
    return select(s, len - 1u - s, reversed);
}

fn row_of(t: u32, b: u32) -> u32 {
    return t * word(STRIDE_T) + b * word(STRIDE_B);
}

// Where (row, direction) of sequence `b` at step `s` of a sequence of `len` steps sits.
fn at_step(d: u32, b: u32, s: u32, len: u32) -> u32 {
    return row_of(step_time(d, s, len), b) * word(DIRS) + d;
}

// GEMMs (gemm.wgsl, gemm_direct.wgsl): C = A·B or C += A·B over strided views,
// A[m, k] = a[A_OFF + m·A_RS + k·A_CS], B[k, n] = b[B_OFF + k·B_RS + n·B_CS],
// C[m, n] = c[C_OFF + m·C_RS + n].
const G_M: u32 = 0u;
const G_N: u32 = 1u;
const G_K: u32 = 2u;
const A_OFF: u32 = 3u;
const A_RS: u32 = 4u;
const A_CS: u32 = 5u;
const B_OFF: u32 = 6u;
const B_RS: u32 = 7u;
const B_CS: u32 = 8u;
const C_OFF: u32 = 9u;
const C_RS: u32 = 10u;
const ACCUMULATE: u32 = 11u;
