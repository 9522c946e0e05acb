//! Random parts of conformance cases: activations with their parameters, sizes that are not
//! multiples of a workgroup, layouts, and seeded tensors.

use super::*;

/// Gate (f) activations with |f| ≤ 1, so the cell cannot grow geometrically; with input_forget
/// (f = 1 − i) only the first two, which stay in [0, 1].
pub(super) const GATE_ACTIVATIONS: [ActivationKind; 5] = [
    ActivationKind::Sigmoid,
    ActivationKind::HardSigmoid,
    ActivationKind::Tanh,
    ActivationKind::Softsign,
    ActivationKind::ScaledTanh,
];

/// A random activation from `kinds`, with random parameters where it takes them.
pub(crate) fn random_activation(rng: &mut StdRng, kinds: &[ActivationKind]) -> Activation {
    let kind = kinds[rng.random_range(0..kinds.len())];
    with_random_parameters(rng, kind)
}

pub(super) fn with_random_parameters(rng: &mut StdRng, kind: ActivationKind) -> Activation {
    let alpha = kind.takes_alpha().then(|| rng.random_range(0.2f32..1.0));
    let beta = kind.takes_beta().then(|| rng.random_range(-0.3f32..0.3));
    Activation::new(kind, alpha, beta).expect("parameters given")
}

/// Random activations for each direction of `config` (the LSTM's f, g, h; the GRU's f, g; the
/// RNN's f). A GRU's candidate and an RNN's h feed back into h unsquashed by a cell, so their
/// functions come from the bounded ones too.
pub fn random_activations(rng: &mut StdRng, config: &LstmConfig) -> Vec<Activation> {
    let gates = if config.input_forget {
        &GATE_ACTIVATIONS[..2]
    } else {
        &GATE_ACTIVATIONS[..]
    };
    let per_direction = config.cell.activations();
    (0..config.num_directions())
        .flat_map(|_| {
            let mut own = vec![random_activation(rng, gates)];
            let others: &[ActivationKind] = match config.cell {
                Cell::Lstm => &ActivationKind::ALL,
                Cell::Gru | Cell::Rnn => &GATE_ACTIVATIONS,
            };
            own.extend((1..per_direction).map(|_| random_activation(rng, others)));
            own
        })
        .collect()
}

/// A size in 1..=max that is not a multiple of 16 (so never of a workgroup size) unless 1.
pub(super) fn irregular(rng: &mut StdRng, max: usize) -> usize {
    irregular_in(rng, 1, max)
}

/// A size in min..=max that is not a multiple of 16 unless the range holds no other.
pub(super) fn irregular_in(rng: &mut StdRng, min: usize, max: usize) -> usize {
    let v = rng.random_range(min..=max);
    if v % 16 == 0 && v > min {
        v - 1
    } else if v % 16 == 0 && v < max {
        v + 1
    } else {
        v
    }
}

pub(super) fn random_layout(rng: &mut StdRng) -> Layout {
    if rng.random_bool(0.5) {
        Layout::SeqMajor
    } else {
        Layout::BatchMajor
    }
}
