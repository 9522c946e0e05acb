//! The shape classes the autotune decides for once per device, as typed keys (the tuning file
//! stores them as JSON objects).

use serde::{Deserialize, Serialize};

use crate::config::LstmConfig;
use crate::forward::Dims;

/// The input projection's class: its input width K and output width N = D·4H, each rounded up
/// to a power of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GemmKey {
    pub k: u64,
    pub n: u64,
}

impl GemmKey {
    pub fn new(k: usize, n: usize) -> Self {
        GemmKey {
            k: k.next_power_of_two() as u64,
            n: n.next_power_of_two() as u64,
        }
    }
}

/// The recurrent step's class: batch class, whether the sequence is long (the sequence kernels
/// are candidates only then), H and P rounded up to powers of two, and the directions; for a
/// model whose layers can also run as a wavefront, the schedule is chosen too, and that choice
/// also depends on the depth and the length class ([`StackClass`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepKey {
    pub stack: Option<StackClass>,
    pub batch: u32,
    pub long: bool,
    pub hidden: u64,
    pub out: u64,
    pub directions: u32,
}

/// Layers, and T rounded up to a power of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StackClass {
    pub layers: u32,
    pub seq: u64,
}

impl StepKey {
    /// The class of `dims` for `cfg`; `stacked` when the schedule is chosen too.
    pub fn new(cfg: &LstmConfig, dims: Dims, stacked: bool) -> Self {
        StepKey {
            stack: stacked.then(|| StackClass {
                layers: cfg.num_layers as u32,
                seq: dims.seq_len.next_power_of_two() as u64,
            }),
            batch: batch_class(dims.batch),
            long: dims.seq_len >= LONG_SEQUENCE,
            hidden: cfg.hidden_size.next_power_of_two() as u64,
            out: cfg.output_size().next_power_of_two() as u64,
            directions: cfg.num_directions() as u32,
        }
    }
}

/// Sequences from this length on are long: a kernel that runs a layer's steps in one dispatch
/// can pay for the compile it costs (seconds for the register-resident one on a CPU adapter).
pub(crate) const LONG_SEQUENCE: usize = 64;

/// The batch sizes that share a step choice.
fn batch_class(batch: usize) -> u32 {
    match batch {
        1 => 1,
        2..=3 => 2,
        4..=15 => 4,
        16..=63 => 16,
        _ => 64,
    }
}
