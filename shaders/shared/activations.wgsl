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

// Near 0, 1 − e cancels: (1 − e)/(1 + e) is off by about 2⁻²⁴ absolutely, which is 10⁻⁴ of
// tanh(10⁻³) and shows in the gradients of a model whose gates are small. Below 1/4 the odd
// Taylor series to x⁹ is within 2⁻²⁴ relative instead (the next term is 10⁻⁸ of it at 1/4).
fn tanh_saturating(x: f32) -> f32 {
    let a = abs(x);
    var t: f32;
    if (a < 0.25) {
        let a2 = a * a;
        t = a + a * a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0 + a2 * (62.0 / 2835.0))));
    } else {
        let e = exp(-2.0 * a);
        t = (1.0 - e) / (1.0 + e); // tanh(|x|)
    }
    return select(-t, t, x >= 0.0);
}

// e^x − 1 for x ≤ 0, without exp(x) − 1's cancellation near 0 (the Taylor series to x⁷ above
// −1/4).
fn exp_minus_one(x: f32) -> f32 {
    if (x > -0.25) {
        return x * (1.0 + x * (1.0 / 2.0 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0
            + x * (1.0 / 720.0 + x * (1.0 / 5040.0)))))));
    }
    return exp(x) - 1.0;
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
        case ELU: { return select(alpha * exp_minus_one(min(x, 0.0)), x, x >= 0.0); }
        case SOFTSIGN: { return x / (1.0 + abs(x)); }
        case SOFTPLUS, default: { return max(x, 0.0) + log(1.0 + exp(-abs(x))); }
    }
}
