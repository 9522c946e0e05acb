// The training forward of one layer over the whole sequence: one workgroup per (direction,
// sequence), both directions in one dispatch. Step by step it adds R·h_{t−1}, the biases and the
// peepholes to the hoisted input projection XP, applies the gates, and records what the backward
// needs in the tape: pre-activations z (before clip), c_t, c_{t−1}, h_{t−1}, o⊙h(c_t) (with a
// projection) and the layer's output y. Threads of the workgroup share h_{t−1} through the tape,
// ordered by storage barriers; each thread keeps the same units j across steps.

@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> xp: array<f32>;      // [rows, D·4H]
@group(0) @binding(3) var<storage, read> lens: array<u32>;    // [B]
@group(0) @binding(4) var<storage, read_write> tape: array<f32>;
@group(0) @binding(5) var<storage, read_write> state: array<f32>; // h0, c0 in; h_n, c_n out

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let batch = word(BATCH);
    let seq = sequence(wid, lid);
    let d = seq.d;
    let b = seq.b;
    let len = seq.len;
    let nd = word(DIRS);
    let hid = word(HIDDEN);
    let out = word(OUT);
    let proj = has(FLAG_PROJECTION);
    let slot = word(STATE_SLOT) + d * batch + b;

    // Steps past the sequence's end hold zeros (y there is 0 by definition).
    for (var t = len; t < word(SEQ_LEN); t++) {
        let at = row_of(t, b) * nd + d;
        for (var q = lid; q < out; q += SEQ_WORKGROUP) {
            tape[word(T_Y) + at * out + q] = 0.0;
            tape[word(T_HPREV) + at * out + q] = 0.0;
        }
        for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
            for (var k = 0u; k < 4u; k++) {
                tape[word(T_Z) + at * 4u * hid + k * hid + j] = 0.0;
            }
            tape[word(T_C) + at * hid + j] = 0.0;
            tape[word(T_CPREV) + at * hid + j] = 0.0;
            if (proj) {
                tape[word(T_M) + at * hid + j] = 0.0;
            }
        }
    }

    let w_hh = word(P_W_HH + d);
    var prev_at = 0u;
    for (var s = 0u; s < len; s++) {
        let row = row_of(step_time(d, s, len), b);
        let at = row * nd + d;
        for (var q = lid; q < out; q += SEQ_WORKGROUP) {
            var h_prev = state[word(H0) + slot * out + q];
            if (s > 0u) {
                h_prev = tape[word(T_Y) + prev_at * out + q];
            }
            tape[word(T_HPREV) + at * out + q] = h_prev;
        }
        storageBarrier();
        for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
            var z = vec4<f32>(0.0);
            for (var k = 0u; k < 4u; k++) {
                let r = k * hid + j;
                var acc = xp[(row * nd + d) * 4u * hid + r];
                if (has(FLAG_BIAS)) {
                    acc += params[word(P_B_IH + d) + r] + params[word(P_B_HH + d) + r];
                }
                for (var q = 0u; q < out; q++) {
                    acc += params[w_hh + r * out + q] * tape[word(T_HPREV) + at * out + q];
                }
                z[k] = acc;
            }
            var c_prev = state[word(C0) + slot * hid + j];
            if (s > 0u) {
                c_prev = tape[word(T_C) + prev_at * hid + j];
            }
            var peep = vec3<f32>(0.0);
            if (has(FLAG_PEEPHOLE)) {
                let p = word(P_PEEP + d);
                peep = vec3<f32>(params[p + j], params[p + hid + j], params[p + 2u * hid + j]);
            }
            z[0] += peep.x * c_prev;
            z[1] += peep.y * c_prev;
            let first = gates(d, z);
            let c = first.value[1] * c_prev + first.value[0] * first.value[2];
            z[3] += peep.z * c;
            let g = gates(d, z);
            let m = g.value[3] * act(d, 2u, c).x;
            for (var k = 0u; k < 4u; k++) {
                tape[word(T_Z) + at * 4u * hid + k * hid + j] = z[k];
            }
            tape[word(T_C) + at * hid + j] = c;
            tape[word(T_CPREV) + at * hid + j] = c_prev;
            if (proj) {
                tape[word(T_M) + at * hid + j] = m;
            } else {
                tape[word(T_Y) + at * out + j] = m;
            }
        }
        if (proj) {
            storageBarrier();
            let w_hr = word(P_W_HR + d);
            for (var q = lid; q < out; q += SEQ_WORKGROUP) {
                var acc = 0.0;
                for (var j = 0u; j < hid; j++) {
                    acc += params[w_hr + q * hid + j] * tape[word(T_M) + at * hid + j];
                }
                tape[word(T_Y) + at * out + q] = acc;
            }
        }
        storageBarrier();
        prev_at = at;
    }

    // The final state, at the sequence's last valid step.
    for (var q = lid; q < out; q += SEQ_WORKGROUP) {
        state[word(HN) + slot * out + q] = tape[word(T_Y) + prev_at * out + q];
    }
    for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
        state[word(CN) + slot * hid + j] = tape[word(T_C) + prev_at * hid + j];
    }
}
