// The sequence kernel (step_sequence.wgsl) for adapters that run invocations as SIMD lanes of a
// CPU (llvmpipe, SwiftShader), where every load an invocation makes at its own address is a
// gather: here each invocation owns one unit and keeps that unit's column of R, SEQ_RES vec4s,
// in registers for the whole sequence, read once instead of once per step, and h of each step is
// read from workgroup memory at addresses every invocation shares. So H ≤ SEQ_RES and
// P ≤ SEQ_RES; SEQ_P (= P) lets the compiler drop the products past P. On a GPU the registers
// spill; the autotune keeps this variant to adapters where it wins.
//
// The unrolled region between the GENERATED markers is written by `sequence_resident_region` in
// src/gpu/shaders_tests.rs, which checks that it matches.

const SEQ_RES: u32 = 128u;
override SEQ_P: u32 = 128u;

var<workgroup> h_step: array<f32, SEQ_RES>;

@compute @workgroup_size(SEQ_RES, 1, 1)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let bd = unfold_yz(wid, nwg, p.grid_z);
    let b = bd.x;
    let d = bd.y;
    if (b >= p.batch) {
        return;
    }
    let l = p.layer;
    let hidden = p.hidden;
    let len = max(seq_lens[b], 1u);
    let j = lid.x;
    let unit = min(j, hidden - 1u);
    let r_col = r_base(p, l) + d * p.out_size * hidden + unit;
    let last_k = p.out_size - 1u;
    // The unit's cell state stays in a register for the whole sequence.
    let slot = d * p.batch + b;
    let c_at = c_base(p, l) + slot * hidden + unit;
    var c = state[c_at];
    let y_col = y_base(p, l) + d * hidden + j;
    // GENERATED BEGIN: the unit's column of R
    let r0 = weight4(r_col + min(0u, last_k) * hidden);
    let r1 = weight4(r_col + min(1u, last_k) * hidden);
    let r2 = weight4(r_col + min(2u, last_k) * hidden);
    let r3 = weight4(r_col + min(3u, last_k) * hidden);
    let r4 = weight4(r_col + min(4u, last_k) * hidden);
    let r5 = weight4(r_col + min(5u, last_k) * hidden);
    let r6 = weight4(r_col + min(6u, last_k) * hidden);
    let r7 = weight4(r_col + min(7u, last_k) * hidden);
    let r8 = weight4(r_col + min(8u, last_k) * hidden);
    let r9 = weight4(r_col + min(9u, last_k) * hidden);
    let r10 = weight4(r_col + min(10u, last_k) * hidden);
    let r11 = weight4(r_col + min(11u, last_k) * hidden);
    let r12 = weight4(r_col + min(12u, last_k) * hidden);
    let r13 = weight4(r_col + min(13u, last_k) * hidden);
    let r14 = weight4(r_col + min(14u, last_k) * hidden);
    let r15 = weight4(r_col + min(15u, last_k) * hidden);
    let r16 = weight4(r_col + min(16u, last_k) * hidden);
    let r17 = weight4(r_col + min(17u, last_k) * hidden);
    let r18 = weight4(r_col + min(18u, last_k) * hidden);
    let r19 = weight4(r_col + min(19u, last_k) * hidden);
    let r20 = weight4(r_col + min(20u, last_k) * hidden);
    let r21 = weight4(r_col + min(21u, last_k) * hidden);
    let r22 = weight4(r_col + min(22u, last_k) * hidden);
    let r23 = weight4(r_col + min(23u, last_k) * hidden);
    let r24 = weight4(r_col + min(24u, last_k) * hidden);
    let r25 = weight4(r_col + min(25u, last_k) * hidden);
    let r26 = weight4(r_col + min(26u, last_k) * hidden);
    let r27 = weight4(r_col + min(27u, last_k) * hidden);
    let r28 = weight4(r_col + min(28u, last_k) * hidden);
    let r29 = weight4(r_col + min(29u, last_k) * hidden);
    let r30 = weight4(r_col + min(30u, last_k) * hidden);
    let r31 = weight4(r_col + min(31u, last_k) * hidden);
    let r32 = weight4(r_col + min(32u, last_k) * hidden);
    let r33 = weight4(r_col + min(33u, last_k) * hidden);
    let r34 = weight4(r_col + min(34u, last_k) * hidden);
    let r35 = weight4(r_col + min(35u, last_k) * hidden);
    let r36 = weight4(r_col + min(36u, last_k) * hidden);
    let r37 = weight4(r_col + min(37u, last_k) * hidden);
    let r38 = weight4(r_col + min(38u, last_k) * hidden);
    let r39 = weight4(r_col + min(39u, last_k) * hidden);
    let r40 = weight4(r_col + min(40u, last_k) * hidden);
    let r41 = weight4(r_col + min(41u, last_k) * hidden);
    let r42 = weight4(r_col + min(42u, last_k) * hidden);
    let r43 = weight4(r_col + min(43u, last_k) * hidden);
    let r44 = weight4(r_col + min(44u, last_k) * hidden);
    let r45 = weight4(r_col + min(45u, last_k) * hidden);
    let r46 = weight4(r_col + min(46u, last_k) * hidden);
    let r47 = weight4(r_col + min(47u, last_k) * hidden);
    let r48 = weight4(r_col + min(48u, last_k) * hidden);
    let r49 = weight4(r_col + min(49u, last_k) * hidden);
    let r50 = weight4(r_col + min(50u, last_k) * hidden);
    let r51 = weight4(r_col + min(51u, last_k) * hidden);
    let r52 = weight4(r_col + min(52u, last_k) * hidden);
    let r53 = weight4(r_col + min(53u, last_k) * hidden);
    let r54 = weight4(r_col + min(54u, last_k) * hidden);
    let r55 = weight4(r_col + min(55u, last_k) * hidden);
    let r56 = weight4(r_col + min(56u, last_k) * hidden);
    let r57 = weight4(r_col + min(57u, last_k) * hidden);
    let r58 = weight4(r_col + min(58u, last_k) * hidden);
    let r59 = weight4(r_col + min(59u, last_k) * hidden);
    let r60 = weight4(r_col + min(60u, last_k) * hidden);
    let r61 = weight4(r_col + min(61u, last_k) * hidden);
    let r62 = weight4(r_col + min(62u, last_k) * hidden);
    let r63 = weight4(r_col + min(63u, last_k) * hidden);
    let r64 = weight4(r_col + min(64u, last_k) * hidden);
    let r65 = weight4(r_col + min(65u, last_k) * hidden);
    let r66 = weight4(r_col + min(66u, last_k) * hidden);
    let r67 = weight4(r_col + min(67u, last_k) * hidden);
    let r68 = weight4(r_col + min(68u, last_k) * hidden);
    let r69 = weight4(r_col + min(69u, last_k) * hidden);
    let r70 = weight4(r_col + min(70u, last_k) * hidden);
    let r71 = weight4(r_col + min(71u, last_k) * hidden);
    let r72 = weight4(r_col + min(72u, last_k) * hidden);
    let r73 = weight4(r_col + min(73u, last_k) * hidden);
    let r74 = weight4(r_col + min(74u, last_k) * hidden);
    let r75 = weight4(r_col + min(75u, last_k) * hidden);
    let r76 = weight4(r_col + min(76u, last_k) * hidden);
    let r77 = weight4(r_col + min(77u, last_k) * hidden);
    let r78 = weight4(r_col + min(78u, last_k) * hidden);
    let r79 = weight4(r_col + min(79u, last_k) * hidden);
    let r80 = weight4(r_col + min(80u, last_k) * hidden);
    let r81 = weight4(r_col + min(81u, last_k) * hidden);
    let r82 = weight4(r_col + min(82u, last_k) * hidden);
    let r83 = weight4(r_col + min(83u, last_k) * hidden);
    let r84 = weight4(r_col + min(84u, last_k) * hidden);
    let r85 = weight4(r_col + min(85u, last_k) * hidden);
    let r86 = weight4(r_col + min(86u, last_k) * hidden);
    let r87 = weight4(r_col + min(87u, last_k) * hidden);
    let r88 = weight4(r_col + min(88u, last_k) * hidden);
    let r89 = weight4(r_col + min(89u, last_k) * hidden);
    let r90 = weight4(r_col + min(90u, last_k) * hidden);
    let r91 = weight4(r_col + min(91u, last_k) * hidden);
    let r92 = weight4(r_col + min(92u, last_k) * hidden);
    let r93 = weight4(r_col + min(93u, last_k) * hidden);
    let r94 = weight4(r_col + min(94u, last_k) * hidden);
    let r95 = weight4(r_col + min(95u, last_k) * hidden);
    let r96 = weight4(r_col + min(96u, last_k) * hidden);
    let r97 = weight4(r_col + min(97u, last_k) * hidden);
    let r98 = weight4(r_col + min(98u, last_k) * hidden);
    let r99 = weight4(r_col + min(99u, last_k) * hidden);
    let r100 = weight4(r_col + min(100u, last_k) * hidden);
    let r101 = weight4(r_col + min(101u, last_k) * hidden);
    let r102 = weight4(r_col + min(102u, last_k) * hidden);
    let r103 = weight4(r_col + min(103u, last_k) * hidden);
    let r104 = weight4(r_col + min(104u, last_k) * hidden);
    let r105 = weight4(r_col + min(105u, last_k) * hidden);
    let r106 = weight4(r_col + min(106u, last_k) * hidden);
    let r107 = weight4(r_col + min(107u, last_k) * hidden);
    let r108 = weight4(r_col + min(108u, last_k) * hidden);
    let r109 = weight4(r_col + min(109u, last_k) * hidden);
    let r110 = weight4(r_col + min(110u, last_k) * hidden);
    let r111 = weight4(r_col + min(111u, last_k) * hidden);
    let r112 = weight4(r_col + min(112u, last_k) * hidden);
    let r113 = weight4(r_col + min(113u, last_k) * hidden);
    let r114 = weight4(r_col + min(114u, last_k) * hidden);
    let r115 = weight4(r_col + min(115u, last_k) * hidden);
    let r116 = weight4(r_col + min(116u, last_k) * hidden);
    let r117 = weight4(r_col + min(117u, last_k) * hidden);
    let r118 = weight4(r_col + min(118u, last_k) * hidden);
    let r119 = weight4(r_col + min(119u, last_k) * hidden);
    let r120 = weight4(r_col + min(120u, last_k) * hidden);
    let r121 = weight4(r_col + min(121u, last_k) * hidden);
    let r122 = weight4(r_col + min(122u, last_k) * hidden);
    let r123 = weight4(r_col + min(123u, last_k) * hidden);
    let r124 = weight4(r_col + min(124u, last_k) * hidden);
    let r125 = weight4(r_col + min(125u, last_k) * hidden);
    let r126 = weight4(r_col + min(126u, last_k) * hidden);
    let r127 = weight4(r_col + min(127u, last_k) * hidden);
    // GENERATED END
    for (var s = 0u; s < p.seq_len; s++) {
        let h_at = h_half(p, l, s & 1u) + (d * p.batch + b) * p.out_size;
        if (j < p.out_size) {
            h_step[j] = state[h_at + j];
        }
        workgroupBarrier();
        // Past its length a sequence reads any valid row (update() ignores z then).
        let row = seq_row(p, seq_t(p, d, min(s, len - 1u), len), b);
        var z = xp[(row * p.directions + d) * hidden + unit];
        // GENERATED BEGIN: z += R·h
        if (0u < SEQ_P) { z = fma(vec4<f32>(h_step[0]), r0, z); }
        if (1u < SEQ_P) { z = fma(vec4<f32>(h_step[1]), r1, z); }
        if (2u < SEQ_P) { z = fma(vec4<f32>(h_step[2]), r2, z); }
        if (3u < SEQ_P) { z = fma(vec4<f32>(h_step[3]), r3, z); }
        if (4u < SEQ_P) { z = fma(vec4<f32>(h_step[4]), r4, z); }
        if (5u < SEQ_P) { z = fma(vec4<f32>(h_step[5]), r5, z); }
        if (6u < SEQ_P) { z = fma(vec4<f32>(h_step[6]), r6, z); }
        if (7u < SEQ_P) { z = fma(vec4<f32>(h_step[7]), r7, z); }
        if (8u < SEQ_P) { z = fma(vec4<f32>(h_step[8]), r8, z); }
        if (9u < SEQ_P) { z = fma(vec4<f32>(h_step[9]), r9, z); }
        if (10u < SEQ_P) { z = fma(vec4<f32>(h_step[10]), r10, z); }
        if (11u < SEQ_P) { z = fma(vec4<f32>(h_step[11]), r11, z); }
        if (12u < SEQ_P) { z = fma(vec4<f32>(h_step[12]), r12, z); }
        if (13u < SEQ_P) { z = fma(vec4<f32>(h_step[13]), r13, z); }
        if (14u < SEQ_P) { z = fma(vec4<f32>(h_step[14]), r14, z); }
        if (15u < SEQ_P) { z = fma(vec4<f32>(h_step[15]), r15, z); }
        if (16u < SEQ_P) { z = fma(vec4<f32>(h_step[16]), r16, z); }
        if (17u < SEQ_P) { z = fma(vec4<f32>(h_step[17]), r17, z); }
        if (18u < SEQ_P) { z = fma(vec4<f32>(h_step[18]), r18, z); }
        if (19u < SEQ_P) { z = fma(vec4<f32>(h_step[19]), r19, z); }
        if (20u < SEQ_P) { z = fma(vec4<f32>(h_step[20]), r20, z); }
        if (21u < SEQ_P) { z = fma(vec4<f32>(h_step[21]), r21, z); }
        if (22u < SEQ_P) { z = fma(vec4<f32>(h_step[22]), r22, z); }
        if (23u < SEQ_P) { z = fma(vec4<f32>(h_step[23]), r23, z); }
        if (24u < SEQ_P) { z = fma(vec4<f32>(h_step[24]), r24, z); }
        if (25u < SEQ_P) { z = fma(vec4<f32>(h_step[25]), r25, z); }
        if (26u < SEQ_P) { z = fma(vec4<f32>(h_step[26]), r26, z); }
        if (27u < SEQ_P) { z = fma(vec4<f32>(h_step[27]), r27, z); }
        if (28u < SEQ_P) { z = fma(vec4<f32>(h_step[28]), r28, z); }
        if (29u < SEQ_P) { z = fma(vec4<f32>(h_step[29]), r29, z); }
        if (30u < SEQ_P) { z = fma(vec4<f32>(h_step[30]), r30, z); }
        if (31u < SEQ_P) { z = fma(vec4<f32>(h_step[31]), r31, z); }
        if (32u < SEQ_P) { z = fma(vec4<f32>(h_step[32]), r32, z); }
        if (33u < SEQ_P) { z = fma(vec4<f32>(h_step[33]), r33, z); }
        if (34u < SEQ_P) { z = fma(vec4<f32>(h_step[34]), r34, z); }
        if (35u < SEQ_P) { z = fma(vec4<f32>(h_step[35]), r35, z); }
        if (36u < SEQ_P) { z = fma(vec4<f32>(h_step[36]), r36, z); }
        if (37u < SEQ_P) { z = fma(vec4<f32>(h_step[37]), r37, z); }
        if (38u < SEQ_P) { z = fma(vec4<f32>(h_step[38]), r38, z); }
        if (39u < SEQ_P) { z = fma(vec4<f32>(h_step[39]), r39, z); }
        if (40u < SEQ_P) { z = fma(vec4<f32>(h_step[40]), r40, z); }
        if (41u < SEQ_P) { z = fma(vec4<f32>(h_step[41]), r41, z); }
        if (42u < SEQ_P) { z = fma(vec4<f32>(h_step[42]), r42, z); }
        if (43u < SEQ_P) { z = fma(vec4<f32>(h_step[43]), r43, z); }
        if (44u < SEQ_P) { z = fma(vec4<f32>(h_step[44]), r44, z); }
        if (45u < SEQ_P) { z = fma(vec4<f32>(h_step[45]), r45, z); }
        if (46u < SEQ_P) { z = fma(vec4<f32>(h_step[46]), r46, z); }
        if (47u < SEQ_P) { z = fma(vec4<f32>(h_step[47]), r47, z); }
        if (48u < SEQ_P) { z = fma(vec4<f32>(h_step[48]), r48, z); }
        if (49u < SEQ_P) { z = fma(vec4<f32>(h_step[49]), r49, z); }
        if (50u < SEQ_P) { z = fma(vec4<f32>(h_step[50]), r50, z); }
        if (51u < SEQ_P) { z = fma(vec4<f32>(h_step[51]), r51, z); }
        if (52u < SEQ_P) { z = fma(vec4<f32>(h_step[52]), r52, z); }
        if (53u < SEQ_P) { z = fma(vec4<f32>(h_step[53]), r53, z); }
        if (54u < SEQ_P) { z = fma(vec4<f32>(h_step[54]), r54, z); }
        if (55u < SEQ_P) { z = fma(vec4<f32>(h_step[55]), r55, z); }
        if (56u < SEQ_P) { z = fma(vec4<f32>(h_step[56]), r56, z); }
        if (57u < SEQ_P) { z = fma(vec4<f32>(h_step[57]), r57, z); }
        if (58u < SEQ_P) { z = fma(vec4<f32>(h_step[58]), r58, z); }
        if (59u < SEQ_P) { z = fma(vec4<f32>(h_step[59]), r59, z); }
        if (60u < SEQ_P) { z = fma(vec4<f32>(h_step[60]), r60, z); }
        if (61u < SEQ_P) { z = fma(vec4<f32>(h_step[61]), r61, z); }
        if (62u < SEQ_P) { z = fma(vec4<f32>(h_step[62]), r62, z); }
        if (63u < SEQ_P) { z = fma(vec4<f32>(h_step[63]), r63, z); }
        if (64u < SEQ_P) { z = fma(vec4<f32>(h_step[64]), r64, z); }
        if (65u < SEQ_P) { z = fma(vec4<f32>(h_step[65]), r65, z); }
        if (66u < SEQ_P) { z = fma(vec4<f32>(h_step[66]), r66, z); }
        if (67u < SEQ_P) { z = fma(vec4<f32>(h_step[67]), r67, z); }
        if (68u < SEQ_P) { z = fma(vec4<f32>(h_step[68]), r68, z); }
        if (69u < SEQ_P) { z = fma(vec4<f32>(h_step[69]), r69, z); }
        if (70u < SEQ_P) { z = fma(vec4<f32>(h_step[70]), r70, z); }
        if (71u < SEQ_P) { z = fma(vec4<f32>(h_step[71]), r71, z); }
        if (72u < SEQ_P) { z = fma(vec4<f32>(h_step[72]), r72, z); }
        if (73u < SEQ_P) { z = fma(vec4<f32>(h_step[73]), r73, z); }
        if (74u < SEQ_P) { z = fma(vec4<f32>(h_step[74]), r74, z); }
        if (75u < SEQ_P) { z = fma(vec4<f32>(h_step[75]), r75, z); }
        if (76u < SEQ_P) { z = fma(vec4<f32>(h_step[76]), r76, z); }
        if (77u < SEQ_P) { z = fma(vec4<f32>(h_step[77]), r77, z); }
        if (78u < SEQ_P) { z = fma(vec4<f32>(h_step[78]), r78, z); }
        if (79u < SEQ_P) { z = fma(vec4<f32>(h_step[79]), r79, z); }
        if (80u < SEQ_P) { z = fma(vec4<f32>(h_step[80]), r80, z); }
        if (81u < SEQ_P) { z = fma(vec4<f32>(h_step[81]), r81, z); }
        if (82u < SEQ_P) { z = fma(vec4<f32>(h_step[82]), r82, z); }
        if (83u < SEQ_P) { z = fma(vec4<f32>(h_step[83]), r83, z); }
        if (84u < SEQ_P) { z = fma(vec4<f32>(h_step[84]), r84, z); }
        if (85u < SEQ_P) { z = fma(vec4<f32>(h_step[85]), r85, z); }
        if (86u < SEQ_P) { z = fma(vec4<f32>(h_step[86]), r86, z); }
        if (87u < SEQ_P) { z = fma(vec4<f32>(h_step[87]), r87, z); }
        if (88u < SEQ_P) { z = fma(vec4<f32>(h_step[88]), r88, z); }
        if (89u < SEQ_P) { z = fma(vec4<f32>(h_step[89]), r89, z); }
        if (90u < SEQ_P) { z = fma(vec4<f32>(h_step[90]), r90, z); }
        if (91u < SEQ_P) { z = fma(vec4<f32>(h_step[91]), r91, z); }
        if (92u < SEQ_P) { z = fma(vec4<f32>(h_step[92]), r92, z); }
        if (93u < SEQ_P) { z = fma(vec4<f32>(h_step[93]), r93, z); }
        if (94u < SEQ_P) { z = fma(vec4<f32>(h_step[94]), r94, z); }
        if (95u < SEQ_P) { z = fma(vec4<f32>(h_step[95]), r95, z); }
        if (96u < SEQ_P) { z = fma(vec4<f32>(h_step[96]), r96, z); }
        if (97u < SEQ_P) { z = fma(vec4<f32>(h_step[97]), r97, z); }
        if (98u < SEQ_P) { z = fma(vec4<f32>(h_step[98]), r98, z); }
        if (99u < SEQ_P) { z = fma(vec4<f32>(h_step[99]), r99, z); }
        if (100u < SEQ_P) { z = fma(vec4<f32>(h_step[100]), r100, z); }
        if (101u < SEQ_P) { z = fma(vec4<f32>(h_step[101]), r101, z); }
        if (102u < SEQ_P) { z = fma(vec4<f32>(h_step[102]), r102, z); }
        if (103u < SEQ_P) { z = fma(vec4<f32>(h_step[103]), r103, z); }
        if (104u < SEQ_P) { z = fma(vec4<f32>(h_step[104]), r104, z); }
        if (105u < SEQ_P) { z = fma(vec4<f32>(h_step[105]), r105, z); }
        if (106u < SEQ_P) { z = fma(vec4<f32>(h_step[106]), r106, z); }
        if (107u < SEQ_P) { z = fma(vec4<f32>(h_step[107]), r107, z); }
        if (108u < SEQ_P) { z = fma(vec4<f32>(h_step[108]), r108, z); }
        if (109u < SEQ_P) { z = fma(vec4<f32>(h_step[109]), r109, z); }
        if (110u < SEQ_P) { z = fma(vec4<f32>(h_step[110]), r110, z); }
        if (111u < SEQ_P) { z = fma(vec4<f32>(h_step[111]), r111, z); }
        if (112u < SEQ_P) { z = fma(vec4<f32>(h_step[112]), r112, z); }
        if (113u < SEQ_P) { z = fma(vec4<f32>(h_step[113]), r113, z); }
        if (114u < SEQ_P) { z = fma(vec4<f32>(h_step[114]), r114, z); }
        if (115u < SEQ_P) { z = fma(vec4<f32>(h_step[115]), r115, z); }
        if (116u < SEQ_P) { z = fma(vec4<f32>(h_step[116]), r116, z); }
        if (117u < SEQ_P) { z = fma(vec4<f32>(h_step[117]), r117, z); }
        if (118u < SEQ_P) { z = fma(vec4<f32>(h_step[118]), r118, z); }
        if (119u < SEQ_P) { z = fma(vec4<f32>(h_step[119]), r119, z); }
        if (120u < SEQ_P) { z = fma(vec4<f32>(h_step[120]), r120, z); }
        if (121u < SEQ_P) { z = fma(vec4<f32>(h_step[121]), r121, z); }
        if (122u < SEQ_P) { z = fma(vec4<f32>(h_step[122]), r122, z); }
        if (123u < SEQ_P) { z = fma(vec4<f32>(h_step[123]), r123, z); }
        if (124u < SEQ_P) { z = fma(vec4<f32>(h_step[124]), r124, z); }
        if (125u < SEQ_P) { z = fma(vec4<f32>(h_step[125]), r125, z); }
        if (126u < SEQ_P) { z = fma(vec4<f32>(h_step[126]), r126, z); }
        if (127u < SEQ_P) { z = fma(vec4<f32>(h_step[127]), r127, z); }
        // GENERATED END
        if (j < hidden) {
            let h_next = h_half(p, l, (s + 1u) & 1u) + slot * p.out_size + j;
            if (s < seq_lens[b]) {
                let cm = cell(j, d, l, z, c);
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
