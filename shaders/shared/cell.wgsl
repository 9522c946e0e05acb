// What every step kernel shares: its bindings, the gate options and the state update around the
// cell body. The registry composes the cell's body (cells/<cell>.wgsl, which defines cell() and
// CELL_READS_H, whether cell() needs the unit's previous h, and reset_gate(), what the sequence
// kernel scales h by before the second product of a RESET_BEFORE_PRODUCT cell) after this file.
//
// R (the weights at binding 2, read with weight4 from shared/weights/) is gate-interleaved and
// k-major: element (d·P + k)·H + j is the vec4 of unit j's four lanes (the LSTM's i, f, g, o; see
// src/backend/gpu/packing.rs for the other cells) for recurrent input k, so neighbouring units
// read neighbouring vec4s; XP rows are unit-major vec4s in the same way. After R come the peepholes, one vec4 (p_i, p_f, p_o, 0) per unit:
// element D·P·H + d·H + j. That is one layer's block; under the wavefront schedule (step.wgsl) the
// blocks of all layers are stacked in one buffer and layer l's starts at r_base(p, l).
//
// Sequence lengths: sequence b is valid at step s while s < len_b. The forward direction visits
// t = s, the reverse one t = len_b - 1 - s (it starts at the last valid step). Once finished, a
// sequence carries its state unchanged and writes 0 to Y row s, the one row past its length that
// this step would otherwise leave stale; over T steps every Y row is written exactly once.
//
// With a projection (PROJECTED) a step stops at m = o⊙h(c); output_projection.wgsl then computes
// h = W_hr·m, writes Y and carries the state of finished sequences.
//
// Gate options are pipeline constants: the activations (f, g, h) of each direction with their
// alpha/beta, clip (0: none), input_forget and peepholes. When both directions use the same
// activations (SAME_ACTIVATIONS) only direction 0's constants are read; otherwise the choice
// follows d, which is the same for a whole workgroup.

override ACT_F0: u32 = 0u;
override ACT_G0: u32 = 1u;
override ACT_H0: u32 = 1u;
override ACT_F1: u32 = 0u;
override ACT_G1: u32 = 1u;
override ACT_H1: u32 = 1u;
override ALPHA_F0: f32 = 0.0;
override ALPHA_G0: f32 = 0.0;
override ALPHA_H0: f32 = 0.0;
override ALPHA_F1: f32 = 0.0;
override ALPHA_G1: f32 = 0.0;
override ALPHA_H1: f32 = 0.0;
override BETA_F0: f32 = 0.0;
override BETA_G0: f32 = 0.0;
override BETA_H0: f32 = 0.0;
override BETA_F1: f32 = 0.0;
override BETA_G1: f32 = 0.0;
override BETA_H1: f32 = 0.0;
override SAME_ACTIVATIONS: bool = true;
override CLIP: f32 = 0.0;
override INPUT_FORGET: bool = false;
override PEEPHOLES: bool = false;
override PROJECTED: bool = false;
// A GRU without linear_before_reset: lane w of a unit's sums is R_n·(r⊙h), which only the
// sequence kernel computes (step_sequence.wgsl), instead of R_n·h + Rb_n.
override RESET_BEFORE_PRODUCT: bool = false;

@group(0) @binding(0) var<uniform> p: StepParams;
@group(0) @binding(1) var<storage, read> xp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> seq_lens: array<u32>;
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

fn act_f(d: u32, x: f32) -> f32 {
    if (SAME_ACTIVATIONS || d == 0u) {
        return activate(ACT_F0, ALPHA_F0, BETA_F0, x);
    }
    return activate(ACT_F1, ALPHA_F1, BETA_F1, x);
}

fn act_g(d: u32, x: f32) -> f32 {
    if (SAME_ACTIVATIONS || d == 0u) {
        return activate(ACT_G0, ALPHA_G0, BETA_G0, x);
    }
    return activate(ACT_G1, ALPHA_G1, BETA_G1, x);
}

fn act_h(d: u32, x: f32) -> f32 {
    if (SAME_ACTIVATIONS || d == 0u) {
        return activate(ACT_H0, ALPHA_H0, BETA_H0, x);
    }
    return activate(ACT_H1, ALPHA_H1, BETA_H1, x);
}

fn clip(x: f32) -> f32 {
    if (CLIP > 0.0) {
        return clamp(x, -CLIP, CLIP);
    }
    return x;
}

// The cell and hidden update of unit j of batch element b in direction d of layer l at step s,
// given its gates' sums.
fn update(j: u32, b: u32, d: u32, l: u32, s: u32, z: vec4<f32>) {
    update_from(j, b, d, l, s, z, seq_lens[b], state[c_base(p, l) + (d * p.batch + b) * p.hidden + j]);
}

// update() with the sequence's length and the unit's previous cell state already read (kernels
// that fetch them before their recurrent product).
fn update_from(j: u32, b: u32, d: u32, l: u32, s: u32, z: vec4<f32>, len: u32, c_prev: f32) {
    let hidden = p.hidden;
    let slot = d * p.batch + b;
    let h_prev = h_half(p, l, s & 1u) + slot * p.out_size;
    let h_next = h_half(p, l, (s + 1u) & 1u) + slot * p.out_size;
    let y_at = y_base(p, l) + d * hidden + j;

    if (s >= len) {
        if (!PROJECTED) {
            state[h_next + j] = state[h_prev + j];
            y[y_at + seq_row(p, s, b) * p.directions * hidden] = 0.0;
        }
        return;
    }
    let row = seq_row(p, seq_t(p, d, s, len), b);
    var h_old = 0.0;
    if (CELL_READS_H) {
        h_old = state[h_prev + j];
    }
    let cm = cell(j, d, l, z, c_prev, h_old);
    state[c_base(p, l) + slot * hidden + j] = cm.x;
    if (PROJECTED) {
        state[m_base(p, l) + slot * hidden + j] = cm.y;
    } else {
        state[h_next + j] = cm.y;
        y[y_at + row * p.directions * hidden] = cm.y;
    }
}
