// Weights read four at a time (binding 2), stored as f16, two to a u32 (x and y in the first);
// for adapters without shader-f16 (GL, browsers).

@group(0) @binding(2) var<storage, read> weights: array<vec2<u32>>;

fn weight4(i: u32) -> vec4<f32> {
    let v = weights[i];
    return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y));
}
