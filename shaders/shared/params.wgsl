// Uniform parameter blocks. Keep in sync with src/gpu/params.rs.

struct GemmParams {
    m: u32,    // rows of X and XP: T·B
    n: u32,    // columns of XP: D·4H
    k: u32,    // columns of X: the layer's input width
    _pad: u32,
}

struct StepParams {
    step: u32,         // s: how many steps each direction has taken
    seq_len: u32,      // T
    batch: u32,        // B
    hidden: u32,       // H: cell size
    out_size: u32,     // P: size of h (H without projection)
    directions: u32,   // D
    reverse_mask: u32, // bit d set: direction d reads the sequence backwards
    stride_t: u32,     // row of (t, b) in X, XP and Y is t·stride_t + b·stride_b
    stride_b: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// State buffer: [h half 0 | h half 1 | c | m]. h halves are [D][B][P], c and m are [D][B][H];
// m holds o⊙h(c) for the projection kernel. Step s reads h from half s%2 and writes the other.
fn h_half(p: StepParams, parity: u32) -> u32 {
    return parity * p.directions * p.batch * p.out_size;
}

fn c_base(p: StepParams) -> u32 {
    return 2u * p.directions * p.batch * p.out_size;
}

fn m_base(p: StepParams) -> u32 {
    return c_base(p) + p.directions * p.batch * p.hidden;
}

// Row of Y that (step, batch element) writes; see step.wgsl for the sequence-length rules.
fn seq_row(p: StepParams, t: u32, b: u32) -> u32 {
    return t * p.stride_t + b * p.stride_b;
}
