// The GRU's cell body for training, composed after train/cell.wgsl into the training forward and
// backward. A unit's lanes are those of the inference kernels (src/backend/gpu/packing.rs):
// x: z's sum, y: r's sum, z: W_n·x + Wb_n, w: the candidate's recurrent part, R_n·h + Rb_n with
// linear_before_reset, R_n·(r⊙h) + Rb_n without (FLAG_RESET_BEFORE: the kernels compute that
// lane in a second phase, after every unit's r). h' = (1 − z)⊙n + z⊙h, so the carry is z⊙dh
// (plus r⊙R_nᵀ·dn without linear_before_reset, which backward.wgsl adds).

const GATES: u32 = 3u;
const LANES: u32 = 4u;
const HAS_C: bool = false;
const SPLIT_CANDIDATE: bool = true;

// The candidate's pre-activation.
fn candidate(z: vec4<f32>, r: f32) -> f32 {
    if (has(FLAG_RESET_BEFORE)) {
        return z.z + z.w;
    }
    return z.z + r * z.w;
}

fn unit_forward(d: u32, z: vec4<f32>, c_prev: f32, h_prev: f32, peep: vec3<f32>) -> UnitForward {
    let update = clipped_act(d, 0u, z.x).x;
    let n = clipped_act(d, 1u, candidate(z, reset_gate(d, z).x)).x;
    return UnitForward(z, 0.0, (1.0 - update) * n + update * h_prev);
}

// dm is the whole dL/dh_t (the carry is in it already). Without linear_before_reset, r's lane
// is left 0 here: it needs R_nᵀ·dn over every unit (backward.wgsl's second phase).
fn unit_backward(d: u32, z: vec4<f32>, c: f32, c_prev: f32, h_prev: f32, peep: vec3<f32>, dm: f32, dc_carry: f32) -> UnitBackward {
    let update = clipped_act(d, 0u, z.x);
    let r = reset_gate(d, z);
    let n = clipped_act(d, 1u, candidate(z, r.x));
    let dn = dm * (1.0 - update.x) * n.y;
    var dz = vec4<f32>(dm * (h_prev - n.x) * update.y, 0.0, dn, dn);
    if (!has(FLAG_RESET_BEFORE)) {
        dz.y = dn * z.w * r.y;
        dz.w = dn * r.x;
    }
    return UnitBackward(dz, dm * update.x, vec3<f32>(0.0));
}
