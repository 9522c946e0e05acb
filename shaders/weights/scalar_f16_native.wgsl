// Weights read one at a time (binding 2), stored as f16, on adapters with shader-f16.
enable f16;

@group(0) @binding(2) var<storage, read> weights: array<f16>;

fn weight(i: u32) -> f32 {
    return f32(weights[i]);
}

// weight as its two factors, for kernels that walk one output row of a matrix: the stored value,
// and a scale shared by every element of element i's output row in its matrix (1 here), read
// once before the walk.
fn weight_raw(i: u32) -> f32 {
    return weight(i);
}

fn weight_scale(i: u32) -> f32 {
    return 1.0;
}
