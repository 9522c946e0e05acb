// Weights read one at a time (binding 2), stored as f16, two to a u32 (weight 2i in the low
// half); for adapters without shader-f16 (GL, browsers).

@group(0) @binding(2) var<storage, read> weights: array<u32>;

fn weight(i: u32) -> f32 {
    return unpack2x16float(weights[i >> 1u])[i & 1u];
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
