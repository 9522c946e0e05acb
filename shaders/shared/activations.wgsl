// The ONNX RNN activation functions, selected by id (ActivationKind order in src/activation.rs).
// Every one saturates without overflow: exp only ever sees non-positive arguments (a tanh built as
// (e^2x - 1)/(e^2x + 1) gives inf/inf = NaN for x ≳ 44).

const SIGMOID: u32 = 0u;
const TANH: u32 = 1u;
const RELU: u32 = 2u;
const AFFINE: u32 = 3u;
const LEAKY_RELU: u32 = 4u;
const THRESHOLDED_RELU: u32 = 5u;
const SCALED_TANH: u32 = 6u;
const HARD_SIGMOID: u32 = 7u;
const ELU: u32 = 8u;
const SOFTSIGN: u32 = 9u;
const SOFTPLUS: u32 = 10u;

fn sigmoid(x: f32) -> f32 {
    let e = exp(-abs(x));
    let s = 1.0 / (1.0 + e); // sigmoid(|x|)
    return select(e * s, s, x >= 0.0);
}

fn tanh_saturating(x: f32) -> f32 {
    let e = exp(-2.0 * abs(x));
    let t = (1.0 - e) / (1.0 + e); // tanh(|x|)
    return select(-t, t, x >= 0.0);
}

// `kind`, `alpha` and `beta` come from pipeline-overridable constants, so the compiler resolves
// the switch when the pipeline is built.
fn activate(kind: u32, alpha: f32, beta: f32, x: f32) -> f32 {
    switch kind {
        case SIGMOID: { return sigmoid(x); }
        case TANH: { return tanh_saturating(x); }
        case RELU: { return max(x, 0.0); }
        case AFFINE: { return alpha * x + beta; }
        case LEAKY_RELU: { return select(alpha * x, x, x >= 0.0); }
        case THRESHOLDED_RELU: { return select(0.0, x, x >= alpha); }
        case SCALED_TANH: { return alpha * tanh_saturating(beta * x); }
        case HARD_SIGMOID: { return clamp(alpha * x + beta, 0.0, 1.0); }
        case ELU: { return select(alpha * (exp(min(x, 0.0)) - 1.0), x, x >= 0.0); }
        case SOFTSIGN: { return x / (1.0 + abs(x)); }
        case SOFTPLUS, default: { return max(x, 0.0) + log(1.0 + exp(-abs(x))); }
    }
}
