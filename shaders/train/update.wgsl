// One optimizer step on the resident weights: SGD with momentum or Adam (PyTorch's definitions),
// after scaling the gradients to the global norm limit. See src/train/optim.rs for the host twin.

@group(0) @binding(1) var<storage, read_write> weights: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> moments: array<f32>; // [N] first, then [N] second (Adam)
@group(0) @binding(4) var<storage, read> norm_sq: array<f32>;

const O_COUNT: u32 = 0u;
const O_KIND: u32 = 1u;      // 0 SGD, 1 Adam
const O_LR: u32 = 2u;        // f32 bits from here on
const O_MOMENTUM: u32 = 3u;  // SGD momentum, or Adam β₁
const O_BETA2: u32 = 4u;
const O_EPS: u32 = 5u;
const O_CORRECT1: u32 = 6u;  // 1 − β₁ᵗ
const O_CORRECT2: u32 = 7u;  // 1 − β₂ᵗ
const O_MAX_NORM: u32 = 8u;  // 0: no clipping
const CLIP_EPS: f32 = 1e-6;
const UPDATE_WORKGROUP: u32 = 256u;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let count = word(O_COUNT);
    // Workgroups past the device's limit in x continue in y (src/backend/gpu/grid.rs).
    let i = (wid.y * nwg.x + wid.x) * UPDATE_WORKGROUP + lid;
    if (i >= count) {
        return;
    }
    var scale = 1.0;
    let max_norm = word_f32(O_MAX_NORM);
    if (max_norm > 0.0) {
        scale = min(1.0, max_norm / (sqrt(norm_sq[0]) + CLIP_EPS));
    }
    let g = grads[i] * scale;
    let lr = word_f32(O_LR);
    let beta1 = word_f32(O_MOMENTUM);
    if (word(O_KIND) == 0u) {
        let v = beta1 * moments[i] + g;
        moments[i] = v;
        weights[i] -= lr * v;
    } else {
        let beta2 = word_f32(O_BETA2);
        let m = beta1 * moments[i] + (1.0 - beta1) * g;
        let v = beta2 * moments[count + i] + (1.0 - beta2) * g * g;
        moments[i] = m;
        moments[count + i] = v;
        weights[i] -= lr * (m / word_f32(O_CORRECT1)) / (sqrt(v / word_f32(O_CORRECT2)) + word_f32(O_EPS));
    }
}
