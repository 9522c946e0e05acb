// The fused reverse-time pass of one layer: one workgroup per (direction, group of up to
// SEQ_GROUP sequences), both directions in one dispatch, walking the steps backwards. At each
// step it forms dh (dy plus Rᵀ·dgates of the step after it, or dh_n at the last step), takes it
// through the projection, and differentiates the gates elementwise, writing dgates (the GEMMs for
// dW, dR, db and dx read them afterwards), dh (for dW_hr) and carrying dc. Each weight read serves
// every sequence of the group. The peephole gradients of each sequence are summed here. At the
// end it writes dh0 and dc0. Sequences of a group have their own lengths: backward step n is
// step len − 1 − n of each, and nothing for a sequence shorter than n + 1.

@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> tape: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;      // [rows, D·P]: dL/dy of this layer
@group(0) @binding(4) var<storage, read> lens: array<u32>;
@group(0) @binding(5) var<storage, read_write> work: array<f32>;  // dgates, dh, dc carry, peephole sums
@group(0) @binding(6) var<storage, read_write> dstate: array<f32>; // dh_n, dc_n in; dh0, dc0 out

// Rᵀ·dgates at the (row, direction) `at[g]` of each sequence of the group: the gradient reaching
// unit q of h at the step before.
fn recurrent(d: u32, at: array<u32, SEQ_GROUP>, q: u32) -> array<f32, SEQ_GROUP> {
    let hid = p.hidden;
    let out = p.out;
    let w_hh = p.w_hh[d];
    var acc: array<f32, SEQ_GROUP>;
    for (var g = 0u; g < SEQ_GROUP; g++) {
        acc[g] = 0.0; // explicitly: see forward.wgsl
    }
    for (var k = 0u; k < GATES; k++) {
        let lane = recurrent_lane(k);
        if (lane == LANES) {
            continue;
        }
        for (var j = 0u; j < hid; j++) {
            let w = params[w_hh + (k * hid + j) * out + q];
            for (var g = 0u; g < SEQ_GROUP; g++) {
                acc[g] += w * work[p.w_dg + at[g] * LANES * hid + lane * hid + j];
            }
        }
    }
    return acc;
}

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

    for (var g = 0u; g < SEQ_GROUP; g++) {
        if (!writes(group, g)) {
            continue;
        }
        let b = member(group, g);
        let slot = p.state_slot + d * batch + b; // in dstate
        let local = d * batch + b;                   // in the work buffer's per-sequence parts
        for (var t = lens[b]; t < p.seq_len; t++) {
            let at = row_of(t, b) * nd + d;
            for (var r = lid; r < LANES * hid; r += SEQ_WORKGROUP) {
                work[p.w_dg + at * LANES * hid + r] = 0.0;
            }
            for (var q = lid; q < out; q += SEQ_WORKGROUP) {
                work[p.w_dh + at * out + q] = 0.0;
            }
        }
        for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
            var carry = 0.0;
            if (HAS_C) {
                carry = dstate[p.cn + slot * hid + j];
            }
            work[p.w_dcarry + local * hid + j] = carry;
            for (var k = 0u; k < 3u; k++) {
                work[p.w_peep + local * 3u * hid + k * hid + j] = 0.0;
            }
        }
    }

    for (var n = 0u; n < group.longest; n++) {
        // This step's (row, direction) of each sequence, and the one of the step after it.
        var at: array<u32, SEQ_GROUP>;
        var after: array<u32, SEQ_GROUP>;
        for (var g = 0u; g < SEQ_GROUP; g++) {
            let len = lens[member(group, g)];
            let s = len - 1u - min(n, len - 1u);
            at[g] = at_step(d, member(group, g), s, len);
            after[g] = at_step(d, member(group, g), min(s + 1u, len - 1u), len);
        }
        for (var q = lid; q < out; q += SEQ_WORKGROUP) {
            var carry: array<f32, SEQ_GROUP>;
            for (var g = 0u; g < SEQ_GROUP; g++) {
                carry[g] = 0.0; // explicitly: see forward.wgsl
            }
            if (n > 0u) {
                carry = recurrent(d, after, q);
            }
            for (var g = 0u; g < SEQ_GROUP; g++) {
                let b = member(group, g);
                if (!writes(group, g) || n >= lens[b]) {
                    continue;
                }
                var from_after = carry[g];
                if (n == 0u) {
                    from_after = dstate[p.hn + (p.state_slot + d * batch + b) * out + q];
                }
                if (!HAS_C) {
                    from_after += work[p.w_dcarry + (d * batch + b) * hid + q];
                }
                work[p.w_dh + at[g] * out + q] = dy[at[g] * out + q] + from_after;
            }
        }
        storageBarrier();
        var peep = vec3<f32>(0.0);
        for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
            var dm: array<f32, SEQ_GROUP>;
            for (var g = 0u; g < SEQ_GROUP; g++) {
                dm[g] = 0.0; // explicitly: see forward.wgsl
            }
            if (proj) {
                let w_hr = p.w_hr[d];
                for (var q = 0u; q < out; q++) {
                    let w = params[w_hr + q * hid + j];
                    for (var g = 0u; g < SEQ_GROUP; g++) {
                        dm[g] += w * work[p.w_dh + at[g] * out + q];
                    }
                }
            } else {
                for (var g = 0u; g < SEQ_GROUP; g++) {
                    dm[g] = work[p.w_dh + at[g] * out + j];
                }
            }
            if (has(FLAG_PEEPHOLE)) {
                let peep_base = p.peep[d];
                peep = vec3<f32>(params[peep_base + j], params[peep_base + hid + j], params[peep_base + 2u * hid + j]);
            }
            for (var g = 0u; g < SEQ_GROUP; g++) {
                let b = member(group, g);
                if (!writes(group, g) || n >= lens[b]) {
                    continue;
                }
                let local = d * batch + b;
                let z = lanes(at[g], j);
                var c = 0.0;
                var c_prev = 0.0;
                if (HAS_C) {
                    c = tape[p.t_c + at[g] * hid + j];
                    c_prev = tape[p.t_cprev + at[g] * hid + j];
                }
                let h_prev = tape[p.t_hprev + at[g] * out + min(j, out - 1u)];
                let carry = p.w_dcarry + local * hid + j;
                let unit = unit_backward(d, z, c, c_prev, h_prev, peep, dm[g], work[carry]);
                for (var k = 0u; k < LANES; k++) {
                    work[p.w_dg + at[g] * LANES * hid + k * hid + j] = unit.dz[k];
                }
                work[carry] = unit.carry;
                if (has(FLAG_PEEPHOLE)) {
                    let sums = p.w_peep + local * 3u * hid + j;
                    work[sums] += unit.dpeep.x;
                    work[sums + hid] += unit.dpeep.y;
                    work[sums + 2u * hid] += unit.dpeep.z;
                }
            }
        }
        if (has(FLAG_RESET_BEFORE)) {
            // A GRU without linear_before_reset: s = R_nᵀ·dn reaches r⊙h_{t−1}, so r's lane is
            // s⊙h·r' and the carry gains r⊙s.
            storageBarrier();
            for (var q = lid; q < hid; q += SEQ_WORKGROUP) {
                var acc: array<f32, SEQ_GROUP>;
                for (var g = 0u; g < SEQ_GROUP; g++) {
                    acc[g] = 0.0;
                }
                for (var j = 0u; j < hid; j++) {
                    let w = params[p.w_hh[d] + (2u * hid + j) * out + q];
                    for (var g = 0u; g < SEQ_GROUP; g++) {
                        acc[g] += w * work[p.w_dg + at[g] * LANES * hid + 3u * hid + j];
                    }
                }
                for (var g = 0u; g < SEQ_GROUP; g++) {
                    let b = member(group, g);
                    if (!writes(group, g) || n >= lens[b]) {
                        continue;
                    }
                    let r = reset_gate(d, lanes(at[g], q));
                    let h_prev = tape[p.t_hprev + at[g] * out + q];
                    work[p.w_dg + at[g] * LANES * hid + hid + q] = acc[g] * h_prev * r.y;
                    work[p.w_dcarry + (d * batch + b) * hid + q] += r.x * acc[g];
                }
            }
        }
        storageBarrier();
    }

    // The step before the first: dh0 = Rᵀ·dgates of step 0 (plus the carry of a cell without a
    // cell state), dc0 the carried dc.
    var first: array<u32, SEQ_GROUP>;
    for (var g = 0u; g < SEQ_GROUP; g++) {
        let len = lens[member(group, g)];
        first[g] = at_step(d, member(group, g), 0u, len);
    }
    for (var q = lid; q < out; q += SEQ_WORKGROUP) {
        let dh0 = recurrent(d, first, q);
        for (var g = 0u; g < SEQ_GROUP; g++) {
            if (writes(group, g)) {
                let b = group.b0 + g;
                var v = dh0[g];
                if (!HAS_C) {
                    v += work[p.w_dcarry + (d * batch + b) * hid + q];
                }
                dstate[p.h0 + (p.state_slot + d * batch + b) * out + q] = v;
            }
        }
    }
    for (var g = 0u; g < SEQ_GROUP; g++) {
        if (!HAS_C || !writes(group, g)) {
            continue;
        }
        let b = member(group, g);
        let local = d * batch + b;
        for (var j = lid; j < hid; j += SEQ_WORKGROUP) {
            dstate[p.c0 + (p.state_slot + d * batch + b) * hid + j] = work[p.w_dcarry + local * hid + j];
        }
    }
}

// Unit j's lanes at (row, direction) `at`, from the tape.
fn lanes(at: u32, j: u32) -> vec4<f32> {
    let hid = p.hidden;
    var z = vec4<f32>(0.0);
    for (var k = 0u; k < LANES; k++) {
        z[k] = tape[p.t_z + at * LANES * hid + k * hid + j];
    }
    return z;
}
