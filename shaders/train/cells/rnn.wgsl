// The plain RNN's cell body for training, composed after train/cell.wgsl into the training
// forward and backward: h' = f(clip(W·x + R·h + Wb + Rb)), one lane per unit.

const GATES: u32 = 1u;
const LANES: u32 = 1u;
const HAS_C: bool = false;
const SPLIT_CANDIDATE: bool = false;

fn unit_forward(d: u32, z: vec4<f32>, c_prev: f32, h_prev: f32, peep: vec3<f32>) -> UnitForward {
    return UnitForward(z, 0.0, clipped_act(d, 0u, z.x).x);
}

fn unit_backward(d: u32, z: vec4<f32>, c: f32, c_prev: f32, h_prev: f32, peep: vec3<f32>, dm: f32, dc_carry: f32) -> UnitBackward {
    return UnitBackward(vec4<f32>(dm * clipped_act(d, 0u, z.x).y, 0.0, 0.0, 0.0), 0.0, vec3<f32>(0.0));
}
