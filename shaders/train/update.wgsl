// One optimizer step on the resident weights: SGD with momentum or Adam (PyTorch's definitions),
// after scaling the gradients to the global norm limit. See src/train/optim.rs for the host twin.

@group(0) @binding(0) var<uniform> p: OptimizerParams;
@group(0) @binding(1) var<storage, read_write> weights: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> moments: array<f32>; // [N] first, then [N] second (Adam)
@group(0) @binding(4) var<storage, read> norm_sq: array<f32>;

const CLIP_EPS: f32 = 1e-6;
const UPDATE_WORKGROUP: u32 = 256u;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let count = p.count;
    // Workgroups past the device's limit in x continue in y (src/backend/gpu/grid.rs).
    let i = (wid.y * nwg.x + wid.x) * UPDATE_WORKGROUP + lid;
    if (i >= count) {
        return;
    }
    var scale = 1.0;
    let max_norm = p.max_norm;
    if (max_norm > 0.0) {
        scale = min(1.0, max_norm / (sqrt(norm_sq[0]) + CLIP_EPS));
    }
    let g = grads[i] * scale;
    let lr = p.lr;
    let beta1 = p.momentum;
    if (p.kind == 0u) {
        let v = beta1 * moments[i] + g;
        moments[i] = v;
        weights[i] -= lr * v;
    } else {
        let beta2 = p.beta2;
        let m = beta1 * moments[i] + (1.0 - beta1) * g;
        let v = beta2 * moments[count + i] + (1.0 - beta2) * g * g;
        moments[i] = m;
        moments[count + i] = v;
        weights[i] -= lr * (m / p.correct1) / (sqrt(v / p.correct2) + p.eps);
    }
}
