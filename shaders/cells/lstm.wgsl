// The LSTM's cell body, composed after shared/cell.wgsl into every step kernel: gates i, f, g, o
// in the lanes x, y, z, w of a unit's vec4, with the peepholes (after R in the weights, see
// shared/cell.wgsl), clip and input_forget of ONNX.

const CELL_READS_H: bool = false;

// The gates of unit j (direction d, layer l) from their sums z and the previous cell state:
// the new cell state c and m = o⊙h(c), as (c, m). The previous h is not read.
fn cell(j: u32, d: u32, l: u32, z: vec4<f32>, c_prev: f32, h_prev: f32) -> vec2<f32> {
    var peep = vec4<f32>(0.0);
    if (PEEPHOLES) {
        peep = weight4(r_base(p, l) + p.directions * p.out_size * p.hidden + d * p.hidden + j);
    }
    let i = act_f(d, clip(z.x + peep.x * c_prev));
    var f = 1.0 - i;
    if (!INPUT_FORGET) {
        f = act_f(d, clip(z.y + peep.y * c_prev));
    }
    let c = f * c_prev + i * act_g(d, clip(z.z));
    let o = act_f(d, clip(z.w + peep.z * c));
    return vec2<f32>(c, o * act_h(d, c));
}

// No reset before a product (shared/cell.wgsl).
fn reset_gate(d: u32, z: vec4<f32>) -> f32 {
    return 1.0;
}
