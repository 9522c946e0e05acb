// The training forward of one layer over the whole sequence: one workgroup per (direction, group
// of up to SEQ_GROUP sequences), both directions in one dispatch. Step by step it adds R·h_{t−1}
// and the biases to the hoisted input projection XP into each unit's lanes (the cell body's
// lanes_of), applies the cell (unit_forward), and records what the backward needs in the tape:
// the lanes (before clip), c_t, c_{t−1} (cells with a cell state), h_{t−1}, m (o⊙h(c_t) with a
// projection; r⊙h_{t−1} for a GRU without linear_before_reset, whose candidate lane is a second
// product over it after a barrier) and the layer's output y. Each weight read serves every sequence
// of the group; R and W_hr are read transposed (`packed`, filled by transpose.wgsl) so that
// neighbouring invocations read neighbouring weights. Invocations share h_{t−1} through the tape,
// ordered by storage barriers; each keeps the same units j across steps. Sequences of a group
// have their own lengths: step s of a sequence shorter than s does nothing.

@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> xp: array<f32>;      // [rows, D·GATES·H]
@group(0) @binding(3) var<storage, read> lens: array<u32>;    // [B]
@group(0) @binding(4) var<storage, read_write> tape: array<f32>;
@group(0) @binding(5) var<storage, read_write> state: array<f32>; // h0, c0 in; h_n, c_n out
@group(0) @binding(6) var<storage, read> packed: array<f32>;  // per direction Rᵀ [P][GATES·H], then W_hrᵀ [H][P]

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let batch = p.batch;
    let group = sequence_group(wid, nwg, lid);
    let d = group.d;
    let nd = p.dirs;
    if (d >= nd) {
        return;
    }
    let hid = p.hidden;
    let out = p.out;
    let proj = has(FLAG_PROJECTION);
    let split = has(FLAG_RESET_BEFORE);
    let r_t = d * (out * GATES * hid + hid * out); // this direction's Rᵀ in `packed`
    let w_hr_t = r_t + out * GATES * hid;

    // Steps past a sequence's end hold zeros (y there is 0 by definition).
    for (var g = 0u; g < SEQ_GROUP; g++) {
        if (!writes(group, g)) {
            continue;
        }
        let b = member(group, g);
        for (var t = lens[b]; t < p.seq_len; t++) {
            let at = row_of(t, b) * nd + d;
            for (var q = lid; q < out; q += SEQ_WORKGROUP) {
                tape[p.t_y + at * out + q] = 0.0;
                tape[p.t_hprev + at * out + q] = 0.0;
            }
            for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
                for (var k = 0u; k < LANES; k++) {
                    tape[p.t_z + at * LANES * hid + k * hid + j] = 0.0;
                }
                if (HAS_C) {
                    tape[p.t_c + at * hid + j] = 0.0;
                    tape[p.t_cprev + at * hid + j] = 0.0;
                }
                if (proj || split) {
                    tape[p.t_m + at * hid + j] = 0.0;
                }
            }
        }
    }

    for (var s = 0u; s < group.longest; s++) {
        // h_{t−1} of every sequence of the group into the tape.
        for (var g = 0u; g < SEQ_GROUP; g++) {
            let b = member(group, g);
            let len = lens[b];
            if (writes(group, g) && s < len) {
                let at = at_step(d, b, s, len);
                let slot = p.state_slot + d * batch + b;
                for (var q = lid; q < out; q += SEQ_WORKGROUP) {
                    var h_prev = state[p.h0 + slot * out + q];
                    if (s > 0u) {
                        h_prev = tape[p.t_y + at_step(d, b, s - 1u, len) * out + q];
                    }
                    tape[p.t_hprev + at * out + q] = h_prev;
                }
            }
        }
        storageBarrier();
        for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
            // R·h_{t−1} for the gates of unit j, every sequence of the group.
            // Accumulators are zeroed explicitly: some compilers hoist a loop body's `var` and
            // initialise it once (WebGPU in Chromium 156 on SwiftShader does), though WGSL zeroes
            // it each time.
            var rh: array<vec4<f32>, SEQ_GROUP>;
            let at = group_rows(group, d, s);
            for (var g = 0u; g < SEQ_GROUP; g++) {
                rh[g] = vec4<f32>(0.0);
            }
            for (var q = 0u; q < out; q++) {
                let w = r_t + q * GATES * hid + j;
                var r = vec4<f32>(0.0);
                for (var k = 0u; k < GATES; k++) {
                    r[k] = packed[w + k * hid];
                }
                for (var g = 0u; g < SEQ_GROUP; g++) {
                    rh[g] += r * tape[p.t_hprev + at[g] * out + q];
                }
            }
            var peep = vec3<f32>(0.0);
            if (has(FLAG_PEEPHOLE)) {
                let peep_base = p.peep[d];
                peep = vec3<f32>(params[peep_base + j], params[peep_base + hid + j], params[peep_base + 2u * hid + j]);
            }
            var b_ih = vec4<f32>(0.0);
            var b_hh = vec4<f32>(0.0);
            if (has(FLAG_BIAS)) {
                for (var k = 0u; k < GATES; k++) {
                    b_ih[k] = params[p.b_ih[d] + k * hid + j];
                    b_hh[k] = params[p.b_hh[d] + k * hid + j];
                }
            }
            for (var g = 0u; g < SEQ_GROUP; g++) {
                let b = member(group, g);
                let len = lens[b];
                if (!writes(group, g) || s >= len) {
                    continue;
                }
                let row = at[g] / nd;
                var x = vec4<f32>(0.0);
                for (var k = 0u; k < GATES; k++) {
                    x[k] = xp[(row * nd + d) * GATES * hid + k * hid + j];
                }
                let z = lanes_of(rh[g], x, b_ih, b_hh);
                let h_prev = tape[p.t_hprev + at[g] * out + min(j, out - 1u)];
                if (split) {
                    // The candidate's lane waits for every unit's r⊙h_{t−1}: below.
                    for (var k = 0u; k < LANES; k++) {
                        tape[p.t_z + at[g] * LANES * hid + k * hid + j] = z[k];
                    }
                    tape[p.t_m + at[g] * hid + j] = reset_gate(d, z).x * h_prev;
                    continue;
                }
                var c_prev = 0.0;
                if (HAS_C) {
                    c_prev = state[p.c0 + (p.state_slot + d * batch + b) * hid + j];
                    if (s > 0u) {
                        c_prev = tape[p.t_c + at_step(d, b, s - 1u, len) * hid + j];
                    }
                }
                let unit = unit_forward(d, z, c_prev, h_prev, peep);
                record(at[g], j, unit, c_prev);
            }
        }
        if (split) {
            // A GRU without linear_before_reset: lane w = R_n·(r⊙h_{t−1}) + Rb_n.
            storageBarrier();
            for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
                var acc: array<f32, SEQ_GROUP>;
                let at = group_rows(group, d, s);
                for (var g = 0u; g < SEQ_GROUP; g++) {
                    acc[g] = 0.0;
                }
                for (var q = 0u; q < out; q++) {
                    let w = packed[r_t + q * GATES * hid + 2u * hid + j];
                    for (var g = 0u; g < SEQ_GROUP; g++) {
                        acc[g] += w * tape[p.t_m + at[g] * hid + q];
                    }
                }
                for (var g = 0u; g < SEQ_GROUP; g++) {
                    if (!writes(group, g) || s >= lens[member(group, g)]) {
                        continue;
                    }
                    var z: vec4<f32>;
                    for (var k = 0u; k < LANES; k++) {
                        z[k] = tape[p.t_z + at[g] * LANES * hid + k * hid + j];
                    }
                    z.w = acc[g];
                    if (has(FLAG_BIAS)) {
                        z.w += params[p.b_hh[d] + 2u * hid + j];
                    }
                    let h_prev = tape[p.t_hprev + at[g] * out + min(j, out - 1u)];
                    record(at[g], j, unit_forward(d, z, 0.0, h_prev, vec3<f32>(0.0)), 0.0);
                }
            }
        }
        if (proj) {
            storageBarrier();
            for (var q = lid; q < out; q += SEQ_WORKGROUP) {
                var acc: array<f32, SEQ_GROUP>;
                let at = group_rows(group, d, s);
                for (var g = 0u; g < SEQ_GROUP; g++) {
                    acc[g] = 0.0;
                }
                for (var j = 0u; j < hid; j++) {
                    let w = packed[w_hr_t + j * out + q];
                    for (var g = 0u; g < SEQ_GROUP; g++) {
                        acc[g] += w * tape[p.t_m + at[g] * hid + j];
                    }
                }
                for (var g = 0u; g < SEQ_GROUP; g++) {
                    if (writes(group, g) && s < lens[member(group, g)]) {
                        tape[p.t_y + at[g] * out + q] = acc[g];
                    }
                }
            }
        }
        storageBarrier();
    }

    // The final state, at each sequence's last valid step.
    for (var g = 0u; g < SEQ_GROUP; g++) {
        if (!writes(group, g)) {
            continue;
        }
        let b = member(group, g);
        let len = lens[b];
        let at = at_step(d, b, len - 1u, len);
        let slot = p.state_slot + d * batch + b;
        for (var q = lid; q < out; q += SEQ_WORKGROUP) {
            state[p.hn + slot * out + q] = tape[p.t_y + at * out + q];
        }
        if (HAS_C) {
            for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
                state[p.cn + slot * hid + j] = tape[p.t_c + at * hid + j];
            }
        }
    }
}

// Where (row, direction) of each sequence of the group at step s sits (the last step of a
// sequence shorter than s + 1, which then writes nothing).
fn group_rows(group: SequenceGroup, d: u32, s: u32) -> array<u32, SEQ_GROUP> {
    var at: array<u32, SEQ_GROUP>;
    for (var g = 0u; g < SEQ_GROUP; g++) {
        let b = member(group, g);
        at[g] = at_step(d, b, min(s, lens[b] - 1u), lens[b]);
    }
    return at;
}

// Unit j's step at (row, direction) `at` into the tape: its lanes, c_t and c_{t−1}, and m (with a
// projection) or y.
fn record(at: u32, j: u32, unit: UnitForward, c_prev: f32) {
    let hid = p.hidden;
    for (var k = 0u; k < LANES; k++) {
        tape[p.t_z + at * LANES * hid + k * hid + j] = unit.z[k];
    }
    if (HAS_C) {
        tape[p.t_c + at * hid + j] = unit.c;
        tape[p.t_cprev + at * hid + j] = c_prev;
    }
    if (has(FLAG_PROJECTION)) {
        tape[p.t_m + at * hid + j] = unit.m;
    } else {
        tape[p.t_y + at * p.out + j] = unit.m;
    }
}
