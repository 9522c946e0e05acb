// Weights read one at a time (binding 2), stored as f16, two to a u32 (weight 2i in the low
// half); for adapters without shader-f16 (GL, browsers).

@group(0) @binding(2) var<storage, read> weights: array<u32>;

fn weight(i: u32) -> f32 {
    return unpack2x16float(weights[i >> 1u])[i & 1u];
}
