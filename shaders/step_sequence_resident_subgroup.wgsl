// The register-resident sequence kernel (step_sequence_resident.wgsl) for devices with subgroups
// of at least 8 invocations: each block of 32 values of h is read from workgroup memory once per
// subgroup, vec4 i by invocation i, and broadcast from there, so a CPU adapter makes one gather
// per 32 values where it would make 32.

// z + R·h for the invocation's units, whose columns of R are in `r`; h in half `half` of h_wg.
fn recurrent(half: u32, lane: u32, z0: array<vec4<f32>, SEQ_UNITS>) -> array<vec4<f32>, SEQ_UNITS> {
    var z = z0;
    // GENERATED: resident-subgroup
    return z;
}

@compute @workgroup_size(SEQ_WG, 1, 1)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    sequence_resident(lid.x, wid, nwg, lane);
}
