// The register-resident sequence kernel (step_sequence_resident.wgsl) for devices with subgroups
// of at least 8 invocations: h reaches every invocation by subgroup broadcasts instead of
// workgroup memory. Each block of 8 values of h is read once per subgroup, value i by invocation
// i, and broadcast from there, so a CPU adapter makes one gather per 8 values where it would make
// 8, and no barrier stages h.

fn stage_h(h_at: u32, j: u32) {}

// z + R·h for the invocation's unit, whose column of R is in `r`.
fn recurrent(h_at: u32, lane: u32, last_k: u32, z0: vec4<f32>) -> vec4<f32> {
    var z = z0;
    // GENERATED BEGIN: z += R·h
    let h0 = state[h_at + min(0u + lane, last_k)];
    if (0u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h0, 0u)), r[0], z); }
    if (1u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h0, 1u)), r[1], z); }
    if (2u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h0, 2u)), r[2], z); }
    if (3u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h0, 3u)), r[3], z); }
    if (4u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h0, 4u)), r[4], z); }
    if (5u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h0, 5u)), r[5], z); }
    if (6u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h0, 6u)), r[6], z); }
    if (7u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h0, 7u)), r[7], z); }
    let h1 = state[h_at + min(8u + lane, last_k)];
    if (8u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h1, 0u)), r[8], z); }
    if (9u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h1, 1u)), r[9], z); }
    if (10u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h1, 2u)), r[10], z); }
    if (11u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h1, 3u)), r[11], z); }
    if (12u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h1, 4u)), r[12], z); }
    if (13u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h1, 5u)), r[13], z); }
    if (14u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h1, 6u)), r[14], z); }
    if (15u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h1, 7u)), r[15], z); }
    let h2 = state[h_at + min(16u + lane, last_k)];
    if (16u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h2, 0u)), r[16], z); }
    if (17u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h2, 1u)), r[17], z); }
    if (18u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h2, 2u)), r[18], z); }
    if (19u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h2, 3u)), r[19], z); }
    if (20u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h2, 4u)), r[20], z); }
    if (21u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h2, 5u)), r[21], z); }
    if (22u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h2, 6u)), r[22], z); }
    if (23u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h2, 7u)), r[23], z); }
    let h3 = state[h_at + min(24u + lane, last_k)];
    if (24u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h3, 0u)), r[24], z); }
    if (25u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h3, 1u)), r[25], z); }
    if (26u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h3, 2u)), r[26], z); }
    if (27u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h3, 3u)), r[27], z); }
    if (28u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h3, 4u)), r[28], z); }
    if (29u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h3, 5u)), r[29], z); }
    if (30u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h3, 6u)), r[30], z); }
    if (31u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h3, 7u)), r[31], z); }
    let h4 = state[h_at + min(32u + lane, last_k)];
    if (32u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h4, 0u)), r[32], z); }
    if (33u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h4, 1u)), r[33], z); }
    if (34u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h4, 2u)), r[34], z); }
    if (35u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h4, 3u)), r[35], z); }
    if (36u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h4, 4u)), r[36], z); }
    if (37u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h4, 5u)), r[37], z); }
    if (38u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h4, 6u)), r[38], z); }
    if (39u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h4, 7u)), r[39], z); }
    let h5 = state[h_at + min(40u + lane, last_k)];
    if (40u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h5, 0u)), r[40], z); }
    if (41u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h5, 1u)), r[41], z); }
    if (42u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h5, 2u)), r[42], z); }
    if (43u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h5, 3u)), r[43], z); }
    if (44u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h5, 4u)), r[44], z); }
    if (45u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h5, 5u)), r[45], z); }
    if (46u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h5, 6u)), r[46], z); }
    if (47u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h5, 7u)), r[47], z); }
    let h6 = state[h_at + min(48u + lane, last_k)];
    if (48u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h6, 0u)), r[48], z); }
    if (49u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h6, 1u)), r[49], z); }
    if (50u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h6, 2u)), r[50], z); }
    if (51u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h6, 3u)), r[51], z); }
    if (52u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h6, 4u)), r[52], z); }
    if (53u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h6, 5u)), r[53], z); }
    if (54u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h6, 6u)), r[54], z); }
    if (55u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h6, 7u)), r[55], z); }
    let h7 = state[h_at + min(56u + lane, last_k)];
    if (56u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h7, 0u)), r[56], z); }
    if (57u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h7, 1u)), r[57], z); }
    if (58u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h7, 2u)), r[58], z); }
    if (59u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h7, 3u)), r[59], z); }
    if (60u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h7, 4u)), r[60], z); }
    if (61u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h7, 5u)), r[61], z); }
    if (62u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h7, 6u)), r[62], z); }
    if (63u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h7, 7u)), r[63], z); }
    let h8 = state[h_at + min(64u + lane, last_k)];
    if (64u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h8, 0u)), r[64], z); }
    if (65u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h8, 1u)), r[65], z); }
    if (66u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h8, 2u)), r[66], z); }
    if (67u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h8, 3u)), r[67], z); }
    if (68u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h8, 4u)), r[68], z); }
    if (69u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h8, 5u)), r[69], z); }
    if (70u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h8, 6u)), r[70], z); }
    if (71u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h8, 7u)), r[71], z); }
    let h9 = state[h_at + min(72u + lane, last_k)];
    if (72u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h9, 0u)), r[72], z); }
    if (73u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h9, 1u)), r[73], z); }
    if (74u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h9, 2u)), r[74], z); }
    if (75u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h9, 3u)), r[75], z); }
    if (76u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h9, 4u)), r[76], z); }
    if (77u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h9, 5u)), r[77], z); }
    if (78u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h9, 6u)), r[78], z); }
    if (79u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h9, 7u)), r[79], z); }
    let h10 = state[h_at + min(80u + lane, last_k)];
    if (80u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h10, 0u)), r[80], z); }
    if (81u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h10, 1u)), r[81], z); }
    if (82u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h10, 2u)), r[82], z); }
    if (83u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h10, 3u)), r[83], z); }
    if (84u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h10, 4u)), r[84], z); }
    if (85u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h10, 5u)), r[85], z); }
    if (86u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h10, 6u)), r[86], z); }
    if (87u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h10, 7u)), r[87], z); }
    let h11 = state[h_at + min(88u + lane, last_k)];
    if (88u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h11, 0u)), r[88], z); }
    if (89u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h11, 1u)), r[89], z); }
    if (90u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h11, 2u)), r[90], z); }
    if (91u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h11, 3u)), r[91], z); }
    if (92u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h11, 4u)), r[92], z); }
    if (93u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h11, 5u)), r[93], z); }
    if (94u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h11, 6u)), r[94], z); }
    if (95u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h11, 7u)), r[95], z); }
    let h12 = state[h_at + min(96u + lane, last_k)];
    if (96u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h12, 0u)), r[96], z); }
    if (97u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h12, 1u)), r[97], z); }
    if (98u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h12, 2u)), r[98], z); }
    if (99u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h12, 3u)), r[99], z); }
    if (100u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h12, 4u)), r[100], z); }
    if (101u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h12, 5u)), r[101], z); }
    if (102u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h12, 6u)), r[102], z); }
    if (103u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h12, 7u)), r[103], z); }
    let h13 = state[h_at + min(104u + lane, last_k)];
    if (104u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h13, 0u)), r[104], z); }
    if (105u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h13, 1u)), r[105], z); }
    if (106u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h13, 2u)), r[106], z); }
    if (107u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h13, 3u)), r[107], z); }
    if (108u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h13, 4u)), r[108], z); }
    if (109u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h13, 5u)), r[109], z); }
    if (110u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h13, 6u)), r[110], z); }
    if (111u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h13, 7u)), r[111], z); }
    let h14 = state[h_at + min(112u + lane, last_k)];
    if (112u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h14, 0u)), r[112], z); }
    if (113u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h14, 1u)), r[113], z); }
    if (114u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h14, 2u)), r[114], z); }
    if (115u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h14, 3u)), r[115], z); }
    if (116u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h14, 4u)), r[116], z); }
    if (117u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h14, 5u)), r[117], z); }
    if (118u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h14, 6u)), r[118], z); }
    if (119u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h14, 7u)), r[119], z); }
    let h15 = state[h_at + min(120u + lane, last_k)];
    if (120u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h15, 0u)), r[120], z); }
    if (121u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h15, 1u)), r[121], z); }
    if (122u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h15, 2u)), r[122], z); }
    if (123u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h15, 3u)), r[123], z); }
    if (124u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h15, 4u)), r[124], z); }
    if (125u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h15, 5u)), r[125], z); }
    if (126u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h15, 6u)), r[126], z); }
    if (127u < SEQ_P) { z = fma(vec4<f32>(subgroupBroadcast(h15, 7u)), r[127], z); }
    // GENERATED END
    return z;
}

@compute @workgroup_size(SEQ_RES, 1, 1)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    sequence_resident(lid.x, wid, nwg, lane);
}
