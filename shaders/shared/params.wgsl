// Uniform parameter blocks. Keep in sync with src/backend/gpu/params.rs.

struct GemmParams {
    m: u32,    // rows of X and XP: T·B
    n: u32,    // columns of XP: D·4H
    k: u32,    // columns of X: the layer's input width
    _pad: u32,
}

struct StepParams {
    step: u32,         // layer by layer: the step s of `layer`; wavefront: dispatch k, where layer l takes step k − l
    seq_len: u32,      // T
    batch: u32,        // B
    hidden: u32,       // H: cell size
    out_size: u32,     // P: size of h (H without projection)
    directions: u32,   // D
    reverse_mask: u32, // bit d set: direction d reads the sequence backwards
    stride_t: u32,     // row of (t, b) in X, XP and Y is t·stride_t + b·stride_b
    stride_b: u32,
    layer: u32,        // layer by layer: the layer; wavefront: the first layer this dispatch runs
    layers: u32,       // L
    y_half: u32,       // f32s in each half of the Y pair; layer l writes half l % 2
    r_first: u32,      // stacked weights (wavefront): vec4 offset of layer 1's block; 0 when each layer's are bound alone
    r_stride: u32,     // stacked weights: vec4s between the blocks of layers ≥ 1
    grid_z: u32,       // the dispatch's logical z extent: D, or the layers of a wavefront dispatch
    _pad: u32,
}

// A workgroup's logical (y, z) in a grid whose y extent the host may have folded into z past the
// device's per-dimension limit (src/backend/gpu/grid.rs): z then counts blocks of `grid_z` logical z
// values. A folded grid may hold workgroups past the logical y extent; kernels skip them.
fn unfold_yz(id: vec3<u32>, nwg: vec3<u32>, grid_z: u32) -> vec2<u32> {
    return vec2<u32>(id.y + nwg.y * (id.z / grid_z), id.z % grid_z);
}

// State buffer: [h half 0 | h half 1 | c | m]. h halves are [L][D][B][P], c and m are [L][D][B][H];
// m holds o⊙h(c) for the projection kernel. Step s of a layer reads its h from half s%2 and writes
// the other, so after T steps every layer's h is in half T%2.
fn h_half(p: StepParams, l: u32, parity: u32) -> u32 {
    return (parity * p.layers + l) * p.directions * p.batch * p.out_size;
}

fn c_base(p: StepParams, l: u32) -> u32 {
    return 2u * p.layers * p.directions * p.batch * p.out_size + l * p.directions * p.batch * p.hidden;
}

fn m_base(p: StepParams, l: u32) -> u32 {
    return c_base(p, l) + p.layers * p.directions * p.batch * p.hidden;
}

// Start of layer l's Y in the Y pair.
fn y_base(p: StepParams, l: u32) -> u32 {
    return (l & 1u) * p.y_half;
}

// Start of layer l's block in the bound recurrent weights.
fn r_base(p: StepParams, l: u32) -> u32 {
    if (l == 0u) {
        return 0u;
    }
    return p.r_first + (l - 1u) * p.r_stride;
}

// Row of Y that (step, batch element) writes; see shared/cell.wgsl for the sequence-length rules.
fn seq_row(p: StepParams, t: u32, b: u32) -> u32 {
    return t * p.stride_t + b * p.stride_b;
}

// The timestep that step s of direction d visits in a sequence of length len (s < len).
fn seq_t(p: StepParams, d: u32, s: u32, len: u32) -> u32 {
    let reversed = ((p.reverse_mask >> d) & 1u) == 1u;
    return select(s, len - 1u - s, reversed);
}

struct PoolRowsParams {
    layers: u32,     // L·D: blocks of rows in both states
    rows: u32,       // B: the forward's batch, one row per stream
    pool_batch: u32, // N: rows per block of the pool's state
    width: u32,      // floats per row (P for h, H for c)
    work_at: u32,    // float offset of the compact [L·D][B][width] block in the working state
    scatter: u32,    // 0: pool → working state; 1: back
    _pad0: u32,
    _pad1: u32,
}
