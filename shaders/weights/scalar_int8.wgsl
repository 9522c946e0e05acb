// Weights read one at a time (binding 2), stored as int8, four to a u32 (weight 4i in the low
// byte) and dequantized here: the layout of vec4_int8.wgsl with one f32 scale per entry, and
// row width in weights. Where scales do not run along the row (weights[1] = 0) each row is one
// output row with one scale (src/backend/gpu/int8.rs).

@group(0) @binding(2) var<storage, read> weights: array<u32>;

const WEIGHTS_HEADER: u32 = 4u;

fn weight(i: u32) -> f32 {
    return weight_raw(i) * weight_scale(i);
}

// The integer of element i.
fn weight_raw(i: u32) -> f32 {
    let q = bitcast<i32>(weights[WEIGHTS_HEADER + (i >> 2u)]);
    return f32(extractBits(q, (i & 3u) * 8u, 8u));
}

// The scale of element i: shared by its output row in its matrix, so kernels walking the row read
// it once.
fn weight_scale(i: u32) -> f32 {
    let width = weights[0];
    let entry = weights[weights[2] + i / width] + (i % width) * weights[1];
    return bitcast<f32>(weights[weights[3] + entry]);
}
