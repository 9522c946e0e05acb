// The sequence kernel (step_sequence.wgsl) for adapters that run invocations as SIMD lanes of a
// CPU (llvmpipe, SwiftShader), where every load an invocation makes at its own address is a
// gather: here each invocation owns one unit and keeps that unit's column of R, SEQ_RES vec4s,
// in registers for the whole sequence (a private array indexed only by constants), read once
// instead of once per step. So H ≤ SEQ_RES and P ≤ SEQ_RES; SEQ_P (= P) lets the compiler drop
// the products past P. On a GPU the registers spill; the autotune keeps this variant to adapters
// where it wins.
//
// This is the body; a part composed after it supplies the entry point and how h of each step
// reaches every invocation (`stage_h` and `recurrent`): through workgroup memory
// (step_sequence_resident_workgroup.wgsl) or subgroup broadcasts
// (step_sequence_resident_subgroup.wgsl). The unrolled regions between the GENERATED markers
// are written by `sequence_resident_regions` in src/backend/gpu/shaders/tests.rs, which checks
// that they match.

const SEQ_RES: u32 = 128u;
override SEQ_P: u32 = 128u;

// The invocation's column of R: indexed only by constants, so it lives in registers.
var<private> r: array<vec4<f32>, SEQ_RES>;

// Invocation j of the workgroup of (batch element, direction) `wid` runs unit j over the whole
// sequence; `lane` is its subgroup invocation id (0 where h is staged in workgroup memory).
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
    let unit = min(j, hidden - 1u);
    let r_col = r_base(p, l) + d * p.out_size * hidden + unit;
    let last_k = p.out_size - 1u;
    // The unit's cell state stays in a register for the whole sequence.
    let slot = d * p.batch + b;
    let c_at = c_base(p, l) + slot * hidden + unit;
    var c = state[c_at];
    let y_col = y_base(p, l) + d * hidden + j;
    // GENERATED BEGIN: the unit's column of R
    r[0] = weight4(r_col + min(0u, last_k) * hidden);
    r[1] = weight4(r_col + min(1u, last_k) * hidden);
    r[2] = weight4(r_col + min(2u, last_k) * hidden);
    r[3] = weight4(r_col + min(3u, last_k) * hidden);
    r[4] = weight4(r_col + min(4u, last_k) * hidden);
    r[5] = weight4(r_col + min(5u, last_k) * hidden);
    r[6] = weight4(r_col + min(6u, last_k) * hidden);
    r[7] = weight4(r_col + min(7u, last_k) * hidden);
    r[8] = weight4(r_col + min(8u, last_k) * hidden);
    r[9] = weight4(r_col + min(9u, last_k) * hidden);
    r[10] = weight4(r_col + min(10u, last_k) * hidden);
    r[11] = weight4(r_col + min(11u, last_k) * hidden);
    r[12] = weight4(r_col + min(12u, last_k) * hidden);
    r[13] = weight4(r_col + min(13u, last_k) * hidden);
    r[14] = weight4(r_col + min(14u, last_k) * hidden);
    r[15] = weight4(r_col + min(15u, last_k) * hidden);
    r[16] = weight4(r_col + min(16u, last_k) * hidden);
    r[17] = weight4(r_col + min(17u, last_k) * hidden);
    r[18] = weight4(r_col + min(18u, last_k) * hidden);
    r[19] = weight4(r_col + min(19u, last_k) * hidden);
    r[20] = weight4(r_col + min(20u, last_k) * hidden);
    r[21] = weight4(r_col + min(21u, last_k) * hidden);
    r[22] = weight4(r_col + min(22u, last_k) * hidden);
    r[23] = weight4(r_col + min(23u, last_k) * hidden);
    r[24] = weight4(r_col + min(24u, last_k) * hidden);
    r[25] = weight4(r_col + min(25u, last_k) * hidden);
    r[26] = weight4(r_col + min(26u, last_k) * hidden);
    r[27] = weight4(r_col + min(27u, last_k) * hidden);
    r[28] = weight4(r_col + min(28u, last_k) * hidden);
    r[29] = weight4(r_col + min(29u, last_k) * hidden);
    r[30] = weight4(r_col + min(30u, last_k) * hidden);
    r[31] = weight4(r_col + min(31u, last_k) * hidden);
    r[32] = weight4(r_col + min(32u, last_k) * hidden);
    r[33] = weight4(r_col + min(33u, last_k) * hidden);
    r[34] = weight4(r_col + min(34u, last_k) * hidden);
    r[35] = weight4(r_col + min(35u, last_k) * hidden);
    r[36] = weight4(r_col + min(36u, last_k) * hidden);
    r[37] = weight4(r_col + min(37u, last_k) * hidden);
    r[38] = weight4(r_col + min(38u, last_k) * hidden);
    r[39] = weight4(r_col + min(39u, last_k) * hidden);
    r[40] = weight4(r_col + min(40u, last_k) * hidden);
    r[41] = weight4(r_col + min(41u, last_k) * hidden);
    r[42] = weight4(r_col + min(42u, last_k) * hidden);
    r[43] = weight4(r_col + min(43u, last_k) * hidden);
    r[44] = weight4(r_col + min(44u, last_k) * hidden);
    r[45] = weight4(r_col + min(45u, last_k) * hidden);
    r[46] = weight4(r_col + min(46u, last_k) * hidden);
    r[47] = weight4(r_col + min(47u, last_k) * hidden);
    r[48] = weight4(r_col + min(48u, last_k) * hidden);
    r[49] = weight4(r_col + min(49u, last_k) * hidden);
    r[50] = weight4(r_col + min(50u, last_k) * hidden);
    r[51] = weight4(r_col + min(51u, last_k) * hidden);
    r[52] = weight4(r_col + min(52u, last_k) * hidden);
    r[53] = weight4(r_col + min(53u, last_k) * hidden);
    r[54] = weight4(r_col + min(54u, last_k) * hidden);
    r[55] = weight4(r_col + min(55u, last_k) * hidden);
    r[56] = weight4(r_col + min(56u, last_k) * hidden);
    r[57] = weight4(r_col + min(57u, last_k) * hidden);
    r[58] = weight4(r_col + min(58u, last_k) * hidden);
    r[59] = weight4(r_col + min(59u, last_k) * hidden);
    r[60] = weight4(r_col + min(60u, last_k) * hidden);
    r[61] = weight4(r_col + min(61u, last_k) * hidden);
    r[62] = weight4(r_col + min(62u, last_k) * hidden);
    r[63] = weight4(r_col + min(63u, last_k) * hidden);
    r[64] = weight4(r_col + min(64u, last_k) * hidden);
    r[65] = weight4(r_col + min(65u, last_k) * hidden);
    r[66] = weight4(r_col + min(66u, last_k) * hidden);
    r[67] = weight4(r_col + min(67u, last_k) * hidden);
    r[68] = weight4(r_col + min(68u, last_k) * hidden);
    r[69] = weight4(r_col + min(69u, last_k) * hidden);
    r[70] = weight4(r_col + min(70u, last_k) * hidden);
    r[71] = weight4(r_col + min(71u, last_k) * hidden);
    r[72] = weight4(r_col + min(72u, last_k) * hidden);
    r[73] = weight4(r_col + min(73u, last_k) * hidden);
    r[74] = weight4(r_col + min(74u, last_k) * hidden);
    r[75] = weight4(r_col + min(75u, last_k) * hidden);
    r[76] = weight4(r_col + min(76u, last_k) * hidden);
    r[77] = weight4(r_col + min(77u, last_k) * hidden);
    r[78] = weight4(r_col + min(78u, last_k) * hidden);
    r[79] = weight4(r_col + min(79u, last_k) * hidden);
    r[80] = weight4(r_col + min(80u, last_k) * hidden);
    r[81] = weight4(r_col + min(81u, last_k) * hidden);
    r[82] = weight4(r_col + min(82u, last_k) * hidden);
    r[83] = weight4(r_col + min(83u, last_k) * hidden);
    r[84] = weight4(r_col + min(84u, last_k) * hidden);
    r[85] = weight4(r_col + min(85u, last_k) * hidden);
    r[86] = weight4(r_col + min(86u, last_k) * hidden);
    r[87] = weight4(r_col + min(87u, last_k) * hidden);
    r[88] = weight4(r_col + min(88u, last_k) * hidden);
    r[89] = weight4(r_col + min(89u, last_k) * hidden);
    r[90] = weight4(r_col + min(90u, last_k) * hidden);
    r[91] = weight4(r_col + min(91u, last_k) * hidden);
    r[92] = weight4(r_col + min(92u, last_k) * hidden);
    r[93] = weight4(r_col + min(93u, last_k) * hidden);
    r[94] = weight4(r_col + min(94u, last_k) * hidden);
    r[95] = weight4(r_col + min(95u, last_k) * hidden);
    r[96] = weight4(r_col + min(96u, last_k) * hidden);
    r[97] = weight4(r_col + min(97u, last_k) * hidden);
    r[98] = weight4(r_col + min(98u, last_k) * hidden);
    r[99] = weight4(r_col + min(99u, last_k) * hidden);
    r[100] = weight4(r_col + min(100u, last_k) * hidden);
    r[101] = weight4(r_col + min(101u, last_k) * hidden);
    r[102] = weight4(r_col + min(102u, last_k) * hidden);
    r[103] = weight4(r_col + min(103u, last_k) * hidden);
    r[104] = weight4(r_col + min(104u, last_k) * hidden);
    r[105] = weight4(r_col + min(105u, last_k) * hidden);
    r[106] = weight4(r_col + min(106u, last_k) * hidden);
    r[107] = weight4(r_col + min(107u, last_k) * hidden);
    r[108] = weight4(r_col + min(108u, last_k) * hidden);
    r[109] = weight4(r_col + min(109u, last_k) * hidden);
    r[110] = weight4(r_col + min(110u, last_k) * hidden);
    r[111] = weight4(r_col + min(111u, last_k) * hidden);
    r[112] = weight4(r_col + min(112u, last_k) * hidden);
    r[113] = weight4(r_col + min(113u, last_k) * hidden);
    r[114] = weight4(r_col + min(114u, last_k) * hidden);
    r[115] = weight4(r_col + min(115u, last_k) * hidden);
    r[116] = weight4(r_col + min(116u, last_k) * hidden);
    r[117] = weight4(r_col + min(117u, last_k) * hidden);
    r[118] = weight4(r_col + min(118u, last_k) * hidden);
    r[119] = weight4(r_col + min(119u, last_k) * hidden);
    r[120] = weight4(r_col + min(120u, last_k) * hidden);
    r[121] = weight4(r_col + min(121u, last_k) * hidden);
    r[122] = weight4(r_col + min(122u, last_k) * hidden);
    r[123] = weight4(r_col + min(123u, last_k) * hidden);
    r[124] = weight4(r_col + min(124u, last_k) * hidden);
    r[125] = weight4(r_col + min(125u, last_k) * hidden);
    r[126] = weight4(r_col + min(126u, last_k) * hidden);
    r[127] = weight4(r_col + min(127u, last_k) * hidden);
    // GENERATED END
    for (var s = 0u; s < p.seq_len; s++) {
        let h_at = h_half(p, l, s & 1u) + (d * p.batch + b) * p.out_size;
        stage_h(h_at, j);
        // Past its length a sequence reads any valid row (update() ignores z then).
        let row = seq_row(p, seq_t(p, d, min(s, len - 1u), len), b);
        let z = recurrent(h_at, lane, last_k, xp[(row * p.directions + d) * hidden + unit]);
        if (j < hidden) {
            let h_next = h_half(p, l, (s + 1u) & 1u) + slot * p.out_size + j;
            if (s < seq_lens[b]) {
                var h_old = 0.0;
                if (CELL_READS_H) {
                    h_old = state[h_at + j];
                }
                let cm = cell(j, d, l, z, c, h_old);
                c = cm.x;
                state[h_next] = cm.y;
                y[y_col + row * p.directions * hidden] = cm.y;
            } else {
                // Finished: carry h, and write 0 to the row past the length (shared/cell.wgsl).
                state[h_next] = state[h_half(p, l, s & 1u) + slot * p.out_size + j];
                y[y_col + seq_row(p, s, b) * p.directions * hidden] = 0.0;
            }
        }
        storageBarrier();
    }
    if (j < hidden) {
        state[c_at] = c;
    }
}
