// Weights read one at a time (binding 2), stored as f16, on adapters with shader-f16.
enable f16;

@group(0) @binding(2) var<storage, read> weights: array<f16>;

fn weight(i: u32) -> f32 {
    return f32(weights[i]);
}
