// The plain RNN's cell body, composed after shared/cell.wgsl into every step kernel: lane x holds
// W·x + R·h + Wb + Rb (the other lanes are zero, src/backend/gpu/packing.rs), and
// h = f(clip(x)).

const CELL_READS_H: bool = false;

// Unit j's new h, as (h, h): an RNN has no cell state.
fn cell(j: u32, d: u32, l: u32, z: vec4<f32>, c_prev: f32, h_prev: f32) -> vec2<f32> {
    let h = act_f(d, clip(z.x));
    return vec2<f32>(h, h);
}

// No reset before a product (shared/cell.wgsl).
fn reset_gate(d: u32, z: vec4<f32>) -> f32 {
    return 1.0;
}
