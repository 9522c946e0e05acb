// The LSTM's cell body for training, composed after train/cell.wgsl into the training forward and
// backward: one unit's step from its gates' sums, and that step differentiated from its record.
// Gates i, f, g, o sit in the lanes x, y, z, w; the peepholes (p_i, p_f, p_o) join i's and f's
// pre-activations with c_{t−1} and o's with c_t, as in ONNX.
//
// What every training cell body defines for forward.wgsl and backward.wgsl: GATES (row blocks of
// W and R), LANES (values per unit in the tape and in dgates), HAS_C (a cell state c, carried
// back as dL/dc; without one the carry is the part of dL/dh_{t−1} that skips R),
// SPLIT_CANDIDATE (train/cell.wgsl's lanes_of), unit_forward and unit_backward.

const GATES: u32 = 4u;
const LANES: u32 = 4u;
const HAS_C: bool = true;
const SPLIT_CANDIDATE: bool = false;

struct Gates {
    value: vec4<f32>, // i, f, g, o
    slope: vec4<f32>, // d value / d pre-activation, clip included
}

fn gates(d: u32, z: vec4<f32>) -> Gates {
    var out: Gates;
    for (var k = 0u; k < 4u; k++) {
        let a = clipped_act(d, select(0u, 1u, k == 2u), z[k]);
        out.value[k] = a.x;
        out.slope[k] = a.y;
    }
    if (p.input_forget == 1u) {
        out.value[1] = 1.0 - out.value[0];
        out.slope[1] = 0.0;
    }
    return out;
}

// Unit j's step: z holds XP + R·h_{t−1} + the biases of its gates.
fn unit_forward(d: u32, sums: vec4<f32>, c_prev: f32, h_prev: f32, peep: vec3<f32>) -> UnitForward {
    var z = sums;
    z[0] += peep.x * c_prev;
    z[1] += peep.y * c_prev;
    let first = gates(d, z);
    let c = first.value[1] * c_prev + first.value[0] * first.value[2];
    z[3] += peep.z * c;
    let gv = gates(d, z);
    return UnitForward(z, c, gv.value[3] * act(d, 2u, c).x);
}

// Unit j's step backward from its record (z, c_t, c_{t−1}), dL/dm and the dL/dc_t carried from
// the step after.
fn unit_backward(d: u32, z: vec4<f32>, c: f32, c_prev: f32, h_prev: f32, peep: vec3<f32>, dm: f32, dc_carry: f32) -> UnitBackward {
    let gv = gates(d, z);
    let h = act(d, 2u, c);
    let dz_o = dm * h.x * gv.slope[3];
    let dc = dc_carry + dm * gv.value[3] * h.y + dz_o * peep.z;
    var di = dc * gv.value[2];
    let df = dc * c_prev;
    if (p.input_forget == 1u) {
        di -= df;
    }
    let dz = vec4<f32>(di * gv.slope[0], df * gv.slope[1], dc * gv.value[0] * gv.slope[2], dz_o);
    return UnitBackward(
        dz,
        dc * gv.value[1] + dz[0] * peep.x + dz[1] * peep.y,
        vec3<f32>(dz[0] * c_prev, dz[1] * c_prev, dz[3] * c),
    );
}
