// Weights read four at a time (binding 2), stored as f32.

@group(0) @binding(2) var<storage, read> weights: array<vec4<f32>>;

fn weight4(i: u32) -> vec4<f32> {
    return weights[i];
}

// weight4 as its two factors, for kernels that walk one column of a matrix over k: the stored
// values, and a scale shared by every element of element i's column in its matrix (1 here), read
// once before the walk.
fn weight4_raw(i: u32) -> vec4<f32> {
    return weight4(i);
}

fn weight4_scale(i: u32) -> vec4<f32> {
    return vec4<f32>(1.0);
}
