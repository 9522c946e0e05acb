// The GRU's cell body, composed after shared/cell.wgsl into every step kernel. With
// linear_before_reset (PyTorch's nn.GRU) a unit's lanes (src/backend/gpu/packing.rs) hold
// x: z's sum, y: r's sum, z: W_n·x + Wb_n, w: R_n·h + Rb_n, so the reset gate scales the
// candidate's recurrent part after the product, as the operator defines it, with no second
// product. Without it (RESET_BEFORE_PRODUCT), z holds W_n·x + Wb_n + Rb_n and the sequence
// kernel computes w = R_n·(r⊙h) after scaling h by reset_gate(). Clip applies to each
// activation's input.

const CELL_READS_H: bool = true;

// Unit j's new h from its lane sums and its previous h, as (h, h): a GRU has no cell state, so
// the slot a cell state would take holds h too.
fn cell(j: u32, d: u32, l: u32, z: vec4<f32>, c_prev: f32, h_prev: f32) -> vec2<f32> {
    let update = act_f(d, clip(z.x));
    let reset = act_f(d, clip(z.y));
    var recurrent = reset * z.w;
    if (RESET_BEFORE_PRODUCT) {
        recurrent = z.w;
    }
    let n = act_g(d, clip(z.z + recurrent));
    let h = (1.0 - update) * n + update * h_prev;
    return vec2<f32>(h, h);
}

// The reset gate r from a unit's sums, which scales h before R_n's product.
fn reset_gate(d: u32, z: vec4<f32>) -> f32 {
    return act_f(d, clip(z.y));
}
