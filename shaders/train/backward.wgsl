// The fused reverse-time pass of one layer: one workgroup per (direction, sequence), both
// directions in one dispatch, walking the steps backwards. At each step it forms dh (dy plus
// Rᵀ·dgates of the step after it, or dh_n at the last step), takes it through the projection,
// and differentiates the gates elementwise, writing dgates (the GEMMs for dW, dR, db and dx read
// them afterwards), dh (for dW_hr) and carrying dc. The peephole gradients of each sequence are
// summed here. At the end it writes dh0 and dc0.

@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> tape: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;      // [rows, D·P]: dL/dy of this layer
@group(0) @binding(4) var<storage, read> lens: array<u32>;
@group(0) @binding(5) var<storage, read_write> work: array<f32>;  // dgates, dh, dc carry, peephole sums
@group(0) @binding(6) var<storage, read_write> dstate: array<f32>; // dh_n, dc_n in; dh0, dc0 out

// Rᵀ·dgates at (row, direction) `at`: the gradient reaching h of the step before it, unit q.
fn recurrent(d: u32, at: u32, q: u32) -> f32 {
    let hid = word(HIDDEN);
    let out = word(OUT);
    let w_hh = word(P_W_HH + d);
    var acc = 0.0;
    for (var r = 0u; r < 4u * hid; r++) {
        acc += params[w_hh + r * out + q] * work[word(W_DG) + at * 4u * hid + r];
    }
    return acc;
}

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
    let slot = word(STATE_SLOT) + d * batch + b; // in dstate
    let local = d * batch + b;                   // in the work buffer's per-sequence parts

    for (var t = len; t < word(SEQ_LEN); t++) {
        let at = row_of(t, b) * nd + d;
        for (var r = lid; r < 4u * hid; r += SEQ_WORKGROUP) {
            work[word(W_DG) + at * 4u * hid + r] = 0.0;
        }
        for (var q = lid; q < out; q += SEQ_WORKGROUP) {
            work[word(W_DH) + at * out + q] = 0.0;
        }
    }
    for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
        work[word(W_DCARRY) + local * hid + j] = dstate[word(CN) + slot * hid + j];
        for (var k = 0u; k < 3u; k++) {
            work[word(W_PEEP) + local * 3u * hid + k * hid + j] = 0.0;
        }
    }

    var next_at = 0u;
    for (var n = 0u; n < len; n++) {
        let s = len - 1u - n;
        let row = row_of(step_time(d, s, len), b);
        let at = row * nd + d;
        for (var q = lid; q < out; q += SEQ_WORKGROUP) {
            var carry = dstate[word(HN) + slot * out + q];
            if (n > 0u) {
                carry = recurrent(d, next_at, q);
            }
            work[word(W_DH) + at * out + q] = dy[at * out + q] + carry;
        }
        storageBarrier();
        var peep = vec3<f32>(0.0);
        for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
            var dm = 0.0;
            if (proj) {
                let w_hr = word(P_W_HR + d);
                for (var q = 0u; q < out; q++) {
                    dm += params[w_hr + q * hid + j] * work[word(W_DH) + at * out + q];
                }
            } else {
                dm = work[word(W_DH) + at * out + j];
            }
            var z: vec4<f32>;
            for (var k = 0u; k < 4u; k++) {
                z[k] = tape[word(T_Z) + at * 4u * hid + k * hid + j];
            }
            let c = tape[word(T_C) + at * hid + j];
            let c_prev = tape[word(T_CPREV) + at * hid + j];
            if (has(FLAG_PEEPHOLE)) {
                let p = word(P_PEEP + d);
                peep = vec3<f32>(params[p + j], params[p + hid + j], params[p + 2u * hid + j]);
            }
            let g = gates(d, z);
            let h = act(d, 2u, c);
            let dz_o = dm * h.x * g.slope[3];
            let dc = work[word(W_DCARRY) + local * hid + j] + dm * g.value[3] * h.y + dz_o * peep.z;
            var di = dc * g.value[2];
            let df = dc * c_prev;
            if (word(INPUT_FORGET) == 1u) {
                di -= df;
            }
            let dz = vec4<f32>(di * g.slope[0], df * g.slope[1], dc * g.value[0] * g.slope[2], dz_o);
            for (var k = 0u; k < 4u; k++) {
                work[word(W_DG) + at * 4u * hid + k * hid + j] = dz[k];
            }
            work[word(W_DCARRY) + local * hid + j] = dc * g.value[1] + dz[0] * peep.x + dz[1] * peep.y;
            if (has(FLAG_PEEPHOLE)) {
                let sums = word(W_PEEP) + local * 3u * hid + j;
                work[sums] += dz[0] * c_prev;
                work[sums + hid] += dz[1] * c_prev;
                work[sums + 2u * hid] += dz[3] * c;
            }
        }
        storageBarrier();
        next_at = at;
    }

    // The step before the first: dh0 = Rᵀ·dgates of step 0, dc0 the carried dc.
    for (var q = lid; q < out; q += SEQ_WORKGROUP) {
        dstate[word(H0) + slot * out + q] = recurrent(d, next_at, q);
    }
    for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
        dstate[word(C0) + slot * hid + j] = work[word(W_DCARRY) + local * hid + j];
    }
}
