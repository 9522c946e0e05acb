// Weights read four at a time (binding 2), stored as f16, on adapters with shader-f16.
enable f16;

@group(0) @binding(2) var<storage, read> weights: array<vec4<f16>>;

fn weight4(i: u32) -> vec4<f32> {
    return vec4<f32>(weights[i]);
}
