// Weights read four at a time (binding 2), stored as int8, four to a u32 (lane x in the low byte)
// and dequantized here: a u32 array of a header (row width in vec4s, whether scales run along the
// row, where the row table and the scales start), the packed weights, a table giving each row of
// the layout its first scale, and the scales (four f32s, one per lane, for each). Element i of
// row r = i / width, column c = i % width has scale entry table[r] + c: one scale per output row
// of W, R and W_hr, shared along the k rows of its matrix (src/backend/gpu/int8.rs).

@group(0) @binding(2) var<storage, read> weights: array<u32>;

const WEIGHTS_HEADER: u32 = 4u;

fn weight4(i: u32) -> vec4<f32> {
    return weight4_raw(i) * weight4_scale(i);
}

// The four integers of element i.
fn weight4_raw(i: u32) -> vec4<f32> {
    let q = bitcast<i32>(weights[WEIGHTS_HEADER + i]);
    return vec4<f32>(
        f32(extractBits(q, 0u, 8u)),
        f32(extractBits(q, 8u, 8u)),
        f32(extractBits(q, 16u, 8u)),
        f32(extractBits(q, 24u, 8u)),
    );
}

// The scales of element i's four lanes: shared by its column in its matrix, so kernels walking a
// column over k read them once.
fn weight4_scale(i: u32) -> vec4<f32> {
    let width = weights[0];
    let entry = weights[weights[2] + i / width] + (i % width) * weights[1];
    let s = weights[3] + entry * 4u;
    return vec4<f32>(
        bitcast<f32>(weights[s]),
        bitcast<f32>(weights[s + 1u]),
        bitcast<f32>(weights[s + 2u]),
        bitcast<f32>(weights[s + 3u]),
    );
}
