// The register-resident sequence kernel (step_sequence_resident.wgsl) for devices without
// subgroups of 8 or more: every invocation reads h of the step from workgroup memory, four
// values at a time.

// z + R·h for the invocation's units, whose columns of R are in `r`; h in half `half` of h_wg.
fn recurrent(half: u32, lane: u32, z0: array<vec4<f32>, SEQ_UNITS>) -> array<vec4<f32>, SEQ_UNITS> {
    var z = z0;
    // GENERATED: resident-workgroup
    return z;
}

@compute @workgroup_size(SEQ_WG, 1, 1)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    sequence_resident(lid.x, wid, nwg, 0u);
}
