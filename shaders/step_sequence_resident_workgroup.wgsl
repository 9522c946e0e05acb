// The register-resident sequence kernel (step_sequence_resident.wgsl) with h of each step staged
// in workgroup memory: every invocation then reads it at addresses all share, after a barrier.

var<workgroup> h_step: array<f32, SEQ_RES>;

fn stage_h(h_at: u32, j: u32) {
    if (j < p.out_size) {
        h_step[j] = state[h_at + j];
    }
    workgroupBarrier();
}

// z + R·h for the invocation's unit, whose column of R is in `r`.
fn recurrent(h_at: u32, lane: u32, last_k: u32, z0: vec4<f32>) -> vec4<f32> {
    var z = z0;
    // GENERATED BEGIN: z += R·h
    if (0u < SEQ_P) { z = fma(vec4<f32>(h_step[0]), r[0], z); }
    if (1u < SEQ_P) { z = fma(vec4<f32>(h_step[1]), r[1], z); }
    if (2u < SEQ_P) { z = fma(vec4<f32>(h_step[2]), r[2], z); }
    if (3u < SEQ_P) { z = fma(vec4<f32>(h_step[3]), r[3], z); }
    if (4u < SEQ_P) { z = fma(vec4<f32>(h_step[4]), r[4], z); }
    if (5u < SEQ_P) { z = fma(vec4<f32>(h_step[5]), r[5], z); }
    if (6u < SEQ_P) { z = fma(vec4<f32>(h_step[6]), r[6], z); }
    if (7u < SEQ_P) { z = fma(vec4<f32>(h_step[7]), r[7], z); }
    if (8u < SEQ_P) { z = fma(vec4<f32>(h_step[8]), r[8], z); }
    if (9u < SEQ_P) { z = fma(vec4<f32>(h_step[9]), r[9], z); }
    if (10u < SEQ_P) { z = fma(vec4<f32>(h_step[10]), r[10], z); }
    if (11u < SEQ_P) { z = fma(vec4<f32>(h_step[11]), r[11], z); }
    if (12u < SEQ_P) { z = fma(vec4<f32>(h_step[12]), r[12], z); }
    if (13u < SEQ_P) { z = fma(vec4<f32>(h_step[13]), r[13], z); }
    if (14u < SEQ_P) { z = fma(vec4<f32>(h_step[14]), r[14], z); }
    if (15u < SEQ_P) { z = fma(vec4<f32>(h_step[15]), r[15], z); }
    if (16u < SEQ_P) { z = fma(vec4<f32>(h_step[16]), r[16], z); }
    if (17u < SEQ_P) { z = fma(vec4<f32>(h_step[17]), r[17], z); }
    if (18u < SEQ_P) { z = fma(vec4<f32>(h_step[18]), r[18], z); }
    if (19u < SEQ_P) { z = fma(vec4<f32>(h_step[19]), r[19], z); }
    if (20u < SEQ_P) { z = fma(vec4<f32>(h_step[20]), r[20], z); }
    if (21u < SEQ_P) { z = fma(vec4<f32>(h_step[21]), r[21], z); }
    if (22u < SEQ_P) { z = fma(vec4<f32>(h_step[22]), r[22], z); }
    if (23u < SEQ_P) { z = fma(vec4<f32>(h_step[23]), r[23], z); }
    if (24u < SEQ_P) { z = fma(vec4<f32>(h_step[24]), r[24], z); }
    if (25u < SEQ_P) { z = fma(vec4<f32>(h_step[25]), r[25], z); }
    if (26u < SEQ_P) { z = fma(vec4<f32>(h_step[26]), r[26], z); }
    if (27u < SEQ_P) { z = fma(vec4<f32>(h_step[27]), r[27], z); }
    if (28u < SEQ_P) { z = fma(vec4<f32>(h_step[28]), r[28], z); }
    if (29u < SEQ_P) { z = fma(vec4<f32>(h_step[29]), r[29], z); }
    if (30u < SEQ_P) { z = fma(vec4<f32>(h_step[30]), r[30], z); }
    if (31u < SEQ_P) { z = fma(vec4<f32>(h_step[31]), r[31], z); }
    if (32u < SEQ_P) { z = fma(vec4<f32>(h_step[32]), r[32], z); }
    if (33u < SEQ_P) { z = fma(vec4<f32>(h_step[33]), r[33], z); }
    if (34u < SEQ_P) { z = fma(vec4<f32>(h_step[34]), r[34], z); }
    if (35u < SEQ_P) { z = fma(vec4<f32>(h_step[35]), r[35], z); }
    if (36u < SEQ_P) { z = fma(vec4<f32>(h_step[36]), r[36], z); }
    if (37u < SEQ_P) { z = fma(vec4<f32>(h_step[37]), r[37], z); }
    if (38u < SEQ_P) { z = fma(vec4<f32>(h_step[38]), r[38], z); }
    if (39u < SEQ_P) { z = fma(vec4<f32>(h_step[39]), r[39], z); }
    if (40u < SEQ_P) { z = fma(vec4<f32>(h_step[40]), r[40], z); }
    if (41u < SEQ_P) { z = fma(vec4<f32>(h_step[41]), r[41], z); }
    if (42u < SEQ_P) { z = fma(vec4<f32>(h_step[42]), r[42], z); }
    if (43u < SEQ_P) { z = fma(vec4<f32>(h_step[43]), r[43], z); }
    if (44u < SEQ_P) { z = fma(vec4<f32>(h_step[44]), r[44], z); }
    if (45u < SEQ_P) { z = fma(vec4<f32>(h_step[45]), r[45], z); }
    if (46u < SEQ_P) { z = fma(vec4<f32>(h_step[46]), r[46], z); }
    if (47u < SEQ_P) { z = fma(vec4<f32>(h_step[47]), r[47], z); }
    if (48u < SEQ_P) { z = fma(vec4<f32>(h_step[48]), r[48], z); }
    if (49u < SEQ_P) { z = fma(vec4<f32>(h_step[49]), r[49], z); }
    if (50u < SEQ_P) { z = fma(vec4<f32>(h_step[50]), r[50], z); }
    if (51u < SEQ_P) { z = fma(vec4<f32>(h_step[51]), r[51], z); }
    if (52u < SEQ_P) { z = fma(vec4<f32>(h_step[52]), r[52], z); }
    if (53u < SEQ_P) { z = fma(vec4<f32>(h_step[53]), r[53], z); }
    if (54u < SEQ_P) { z = fma(vec4<f32>(h_step[54]), r[54], z); }
    if (55u < SEQ_P) { z = fma(vec4<f32>(h_step[55]), r[55], z); }
    if (56u < SEQ_P) { z = fma(vec4<f32>(h_step[56]), r[56], z); }
    if (57u < SEQ_P) { z = fma(vec4<f32>(h_step[57]), r[57], z); }
    if (58u < SEQ_P) { z = fma(vec4<f32>(h_step[58]), r[58], z); }
    if (59u < SEQ_P) { z = fma(vec4<f32>(h_step[59]), r[59], z); }
    if (60u < SEQ_P) { z = fma(vec4<f32>(h_step[60]), r[60], z); }
    if (61u < SEQ_P) { z = fma(vec4<f32>(h_step[61]), r[61], z); }
    if (62u < SEQ_P) { z = fma(vec4<f32>(h_step[62]), r[62], z); }
    if (63u < SEQ_P) { z = fma(vec4<f32>(h_step[63]), r[63], z); }
    if (64u < SEQ_P) { z = fma(vec4<f32>(h_step[64]), r[64], z); }
    if (65u < SEQ_P) { z = fma(vec4<f32>(h_step[65]), r[65], z); }
    if (66u < SEQ_P) { z = fma(vec4<f32>(h_step[66]), r[66], z); }
    if (67u < SEQ_P) { z = fma(vec4<f32>(h_step[67]), r[67], z); }
    if (68u < SEQ_P) { z = fma(vec4<f32>(h_step[68]), r[68], z); }
    if (69u < SEQ_P) { z = fma(vec4<f32>(h_step[69]), r[69], z); }
    if (70u < SEQ_P) { z = fma(vec4<f32>(h_step[70]), r[70], z); }
    if (71u < SEQ_P) { z = fma(vec4<f32>(h_step[71]), r[71], z); }
    if (72u < SEQ_P) { z = fma(vec4<f32>(h_step[72]), r[72], z); }
    if (73u < SEQ_P) { z = fma(vec4<f32>(h_step[73]), r[73], z); }
    if (74u < SEQ_P) { z = fma(vec4<f32>(h_step[74]), r[74], z); }
    if (75u < SEQ_P) { z = fma(vec4<f32>(h_step[75]), r[75], z); }
    if (76u < SEQ_P) { z = fma(vec4<f32>(h_step[76]), r[76], z); }
    if (77u < SEQ_P) { z = fma(vec4<f32>(h_step[77]), r[77], z); }
    if (78u < SEQ_P) { z = fma(vec4<f32>(h_step[78]), r[78], z); }
    if (79u < SEQ_P) { z = fma(vec4<f32>(h_step[79]), r[79], z); }
    if (80u < SEQ_P) { z = fma(vec4<f32>(h_step[80]), r[80], z); }
    if (81u < SEQ_P) { z = fma(vec4<f32>(h_step[81]), r[81], z); }
    if (82u < SEQ_P) { z = fma(vec4<f32>(h_step[82]), r[82], z); }
    if (83u < SEQ_P) { z = fma(vec4<f32>(h_step[83]), r[83], z); }
    if (84u < SEQ_P) { z = fma(vec4<f32>(h_step[84]), r[84], z); }
    if (85u < SEQ_P) { z = fma(vec4<f32>(h_step[85]), r[85], z); }
    if (86u < SEQ_P) { z = fma(vec4<f32>(h_step[86]), r[86], z); }
    if (87u < SEQ_P) { z = fma(vec4<f32>(h_step[87]), r[87], z); }
    if (88u < SEQ_P) { z = fma(vec4<f32>(h_step[88]), r[88], z); }
    if (89u < SEQ_P) { z = fma(vec4<f32>(h_step[89]), r[89], z); }
    if (90u < SEQ_P) { z = fma(vec4<f32>(h_step[90]), r[90], z); }
    if (91u < SEQ_P) { z = fma(vec4<f32>(h_step[91]), r[91], z); }
    if (92u < SEQ_P) { z = fma(vec4<f32>(h_step[92]), r[92], z); }
    if (93u < SEQ_P) { z = fma(vec4<f32>(h_step[93]), r[93], z); }
    if (94u < SEQ_P) { z = fma(vec4<f32>(h_step[94]), r[94], z); }
    if (95u < SEQ_P) { z = fma(vec4<f32>(h_step[95]), r[95], z); }
    if (96u < SEQ_P) { z = fma(vec4<f32>(h_step[96]), r[96], z); }
    if (97u < SEQ_P) { z = fma(vec4<f32>(h_step[97]), r[97], z); }
    if (98u < SEQ_P) { z = fma(vec4<f32>(h_step[98]), r[98], z); }
    if (99u < SEQ_P) { z = fma(vec4<f32>(h_step[99]), r[99], z); }
    if (100u < SEQ_P) { z = fma(vec4<f32>(h_step[100]), r[100], z); }
    if (101u < SEQ_P) { z = fma(vec4<f32>(h_step[101]), r[101], z); }
    if (102u < SEQ_P) { z = fma(vec4<f32>(h_step[102]), r[102], z); }
    if (103u < SEQ_P) { z = fma(vec4<f32>(h_step[103]), r[103], z); }
    if (104u < SEQ_P) { z = fma(vec4<f32>(h_step[104]), r[104], z); }
    if (105u < SEQ_P) { z = fma(vec4<f32>(h_step[105]), r[105], z); }
    if (106u < SEQ_P) { z = fma(vec4<f32>(h_step[106]), r[106], z); }
    if (107u < SEQ_P) { z = fma(vec4<f32>(h_step[107]), r[107], z); }
    if (108u < SEQ_P) { z = fma(vec4<f32>(h_step[108]), r[108], z); }
    if (109u < SEQ_P) { z = fma(vec4<f32>(h_step[109]), r[109], z); }
    if (110u < SEQ_P) { z = fma(vec4<f32>(h_step[110]), r[110], z); }
    if (111u < SEQ_P) { z = fma(vec4<f32>(h_step[111]), r[111], z); }
    if (112u < SEQ_P) { z = fma(vec4<f32>(h_step[112]), r[112], z); }
    if (113u < SEQ_P) { z = fma(vec4<f32>(h_step[113]), r[113], z); }
    if (114u < SEQ_P) { z = fma(vec4<f32>(h_step[114]), r[114], z); }
    if (115u < SEQ_P) { z = fma(vec4<f32>(h_step[115]), r[115], z); }
    if (116u < SEQ_P) { z = fma(vec4<f32>(h_step[116]), r[116], z); }
    if (117u < SEQ_P) { z = fma(vec4<f32>(h_step[117]), r[117], z); }
    if (118u < SEQ_P) { z = fma(vec4<f32>(h_step[118]), r[118], z); }
    if (119u < SEQ_P) { z = fma(vec4<f32>(h_step[119]), r[119], z); }
    if (120u < SEQ_P) { z = fma(vec4<f32>(h_step[120]), r[120], z); }
    if (121u < SEQ_P) { z = fma(vec4<f32>(h_step[121]), r[121], z); }
    if (122u < SEQ_P) { z = fma(vec4<f32>(h_step[122]), r[122], z); }
    if (123u < SEQ_P) { z = fma(vec4<f32>(h_step[123]), r[123], z); }
    if (124u < SEQ_P) { z = fma(vec4<f32>(h_step[124]), r[124], z); }
    if (125u < SEQ_P) { z = fma(vec4<f32>(h_step[125]), r[125], z); }
    if (126u < SEQ_P) { z = fma(vec4<f32>(h_step[126]), r[126], z); }
    if (127u < SEQ_P) { z = fma(vec4<f32>(h_step[127]), r[127], z); }
    // GENERATED END
    return z;
}

@compute @workgroup_size(SEQ_RES, 1, 1)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    sequence_resident(lid.x, wid, nwg, 0u);
}
