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
    hidden: u32,       // H
    directions: u32,   // D
    reverse_mask: u32, // bit d set: direction d reads the sequence backwards
    stride_t: u32,     // row of (t, b) in X, XP and Y is t·stride_t + b·stride_b
    stride_b: u32,
}
