// Gate activations that saturate exactly for any |x|: exp only sees non-positive arguments, so it
// never overflows (a tanh built as (e^2x - 1)/(e^2x + 1) gives inf/inf = NaN for x ≳ 44).

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
