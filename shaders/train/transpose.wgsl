// dst[dst_off + c·rows + r] = src[src_off + r·cols + c]: the recurrent and projection weights transposed
// for the training forward, which reads them along the units it spreads over invocations.

@group(0) @binding(0) var<uniform> p: TransposeParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let c = id.x;
    let r = id.y;
    if (r < p.rows && c < p.cols) {
        dst[p.dst_off + c * p.rows + r] = src[p.src_off + r * p.cols + c];
    }
}
