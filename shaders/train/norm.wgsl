// The squared global L2 norm of the gradients, for clipping: one workgroup sums them all.

@group(0) @binding(0) var<uniform> p: OptimizerParams;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm_sq: array<f32>; // [1]

const NORM_WORKGROUP: u32 = 256u;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var i = lid; i < p.count; i += NORM_WORKGROUP) {
        let g = grads[i];
        acc += g * g;
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var half = NORM_WORKGROUP / 2u; half > 0u; half /= 2u) {
        if (lid < half) {
            partial[lid] += partial[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        norm_sq[0] = partial[0];
    }
}
