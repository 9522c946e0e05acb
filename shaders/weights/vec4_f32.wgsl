// Weights read four at a time (binding 2), stored as f32.

@group(0) @binding(2) var<storage, read> weights: array<vec4<f32>>;

fn weight4(i: u32) -> vec4<f32> {
    return weights[i];
}
