// The sequence kernel (step_sequence.wgsl) for adapters that run invocations as SIMD lanes of a
// CPU (llvmpipe, SwiftShader), where every load an invocation makes at its own address is a
// gather. Each invocation owns SEQ_UNITS units (j, j + SEQ_WG, …) and keeps their columns of R,
// SEQ_RES vec4s each, in registers for the whole sequence (a private array indexed only by
// constants), read once instead of once per step. h lives in workgroup memory, in two halves:
// step s reads half s % 2 and writes the other, so one workgroup barrier separates two steps.
// It is built in three sizes, SEQ_RES = SEQ_WG · SEQ_UNITS = 128 (128 × 1), 256 (256 × 1) and
// 512 (256 × 2): H ≤ SEQ_RES and P ≤ SEQ_RES, and SEQ_P (= P) lets the compiler drop the
// products past P. On a GPU the registers spill; the autotune keeps this variant to adapters
// where it wins.
//
// This is the body; a part composed after it supplies the entry point and `recurrent`, how h
// reaches every invocation: read from workgroup memory (step_sequence_resident_workgroup.wgsl)
// or read once per subgroup and broadcast (step_sequence_resident_subgroup.wgsl). The lines
// `// GENERATED: …` are written for each size when the kernel is built (the consts and the
// unrolled products): src/backend/gpu/shaders/generated.rs.

// GENERATED: consts
override SEQ_P: u32 = 128u;

// The invocation's columns of R, unit u's k-th at u · SEQ_RES + k: indexed only by constants,
// so they live in registers.
var<private> r: array<vec4<f32>, SEQ_UNITS * SEQ_RES>;
// h of the step in one half (SEQ_RES / 4 vec4s each), the next step's written to the other.
var<workgroup> h_wg: array<vec4<f32>, SEQ_RES / 2u>;

// Invocation j of the workgroup of (batch element, direction) `wid` runs its units over the
// whole sequence; `lane` is its subgroup invocation id (0 where h is read from workgroup memory).
fn sequence_resident(j: u32, wid: vec3<u32>, nwg: vec3<u32>, lane: u32) {
    let bd = unfold_yz(wid, nwg, p.grid_z);
    let b = bd.x;
    let d = bd.y;
    if (b >= p.batch) {
        return;
    }
    let l = p.layer;
    let hidden = p.hidden;
    let len = max(seq_lens[b], 1u);
    let last_k = p.out_size - 1u;
    let slot = d * p.batch + b;
    let r_at = r_base(p, l) + d * p.out_size * hidden;
    let c_at = c_base(p, l) + slot * hidden;
    // Units past H compute unit H − 1 again and write nothing; their cell state stays in a
    // register for the whole sequence.
    var unit: array<u32, SEQ_UNITS>;
    var c: array<f32, SEQ_UNITS>;
    for (var u = 0u; u < SEQ_UNITS; u++) {
        unit[u] = min(j + u * SEQ_WG, hidden - 1u);
        c[u] = state[c_at + unit[u]];
    }
    // Rows past P repeat the last (no product reads them). Written at an index the compiler
    // cannot see, r is read by the products only at constants, which keeps it in registers; the
    // load is a loop rather than SEQ_RES gathers, which compile for tens of seconds on a CPU
    // adapter.
    for (var k = 0u; k < SEQ_RES; k++) {
        for (var u = 0u; u < SEQ_UNITS; u++) {
            r[u * SEQ_RES + k] = weight4(r_at + min(k, last_k) * hidden + unit[u]);
        }
    }
    // h before the first step into half 0.
    let h_first = h_half(p, l, 0u) + slot * p.out_size;
    for (var u = 0u; u < SEQ_UNITS; u++) {
        let q = j + u * SEQ_WG;
        if (q < p.out_size) {
            h_wg[q / 4u][q % 4u] = state[h_first + q];
        }
    }
    workgroupBarrier();
    for (var s = 0u; s < p.seq_len; s++) {
        let half = (s & 1u) * (SEQ_RES / 4u);
        // Past its length a sequence reads any valid row (the update below ignores z then).
        let row = seq_row(p, seq_t(p, d, min(s, len - 1u), len), b);
        var z: array<vec4<f32>, SEQ_UNITS>;
        for (var u = 0u; u < SEQ_UNITS; u++) {
            z[u] = xp[(row * p.directions + d) * hidden + unit[u]];
        }
        z = recurrent(half, lane, z);
        for (var u = 0u; u < SEQ_UNITS; u++) {
            let q = j + u * SEQ_WG;
            if (q < hidden) {
                let h_old = h_wg[half + q / 4u][q % 4u];
                var h = h_old;
                if (s < seq_lens[b]) {
                    let cm = cell(q, d, l, z[u], c[u], h_old);
                    c[u] = cm.x;
                    h = cm.y;
                    y[y_base(p, l) + (row * p.directions + d) * hidden + q] = h;
                } else {
                    // Finished: carry h, and write 0 to the row past the length (shared/cell.wgsl).
                    y[y_base(p, l) + (seq_row(p, s, b) * p.directions + d) * hidden + q] = 0.0;
                }
                h_wg[SEQ_RES / 4u - half + q / 4u][q % 4u] = h;
                // After the last step h is in half T % 2 of the state, like every step kernel's.
                if (s + 1u == p.seq_len) {
                    state[h_half(p, l, (s + 1u) & 1u) + slot * p.out_size + q] = h;
                }
            }
        }
        workgroupBarrier();
    }
    for (var u = 0u; u < SEQ_UNITS; u++) {
        if (j + u * SEQ_WG < hidden) {
            state[c_at + j + u * SEQ_WG] = c[u];
        }
    }
}
