//! The step kernels of each cell: the shared step bodies (`step*.wgsl`) with the cell's body
//! (`cells/<cell>.wgsl`) composed in, in the four weight formats.

use super::*;

/// The step kernels of one cell: the shared step bodies with its cell body composed in.
pub(crate) struct CellKernels {
    /// One recurrent timestep with the cell update, 1–8 batch elements per invocation; also the
    /// wavefront's step.
    pub step: [Kernel; 4],
    /// One recurrent timestep, split over k across a workgroup (small batches).
    pub splitk: [Kernel; 4],
    /// One recurrent timestep staging tiles of R and h in workgroup memory (large batches).
    pub tiled: [Kernel; 4],
    /// Every step of a layer in one dispatch, a workgroup per batch element and direction.
    pub sequence: [Kernel; 4],
    /// The sequence kernel with each invocation's columns of R in registers, h read from
    /// workgroup memory (the body, then the part that reads h), in each of
    /// [`STEP_SEQUENCE_RESIDENT_SIZES`].
    pub resident: [[Kernel; 4]; 3],
    /// The register-resident sequence kernel with h broadcast within subgroups (devices with
    /// `Features::SUBGROUP` and subgroups of at least [`SEQUENCE_SUBGROUP`] invocations): the
    /// same body, then the part that broadcasts h.
    pub resident_subgroup: [[Kernel; 4]; 3],
}

/// The register-resident sequence kernel of the cell whose body is `$body`, with h read by
/// `$part` ("workgroup" or "subgroup", in `$file`), `$wg` invocations owning `$units` units each.
macro_rules! resident {
    ($prefix:literal, $body:literal, $part:literal, $file:literal, $wg:literal, $units:literal) => {
        kernel!(@set concat!($prefix, "step_sequence_resident_", $part, "_", $wg, "x", $units), "vec4",
            ["shared/params.wgsl", "shared/activations.wgsl", "shared/cell.wgsl", $body,
             "step_sequence_resident.wgsl", $file],
            [$wg, 1, 1],
            // h in two halves
            2 * $wg * $units * F32,
            STEP_BINDINGS,
            &[("SEQ_WG", $wg), ("SEQ_UNITS", $units), ("SEQ_RES", $wg * $units)],
            &SEQUENCE_RESIDENT_OVERRIDES)
    };
}

/// The [`CellKernels`] of the cell whose body is `$body` (under `shaders/`), named `$prefix…`.
macro_rules! cell_kernels {
    ($(#[$doc:meta])* $name:ident = $prefix:literal, $body:literal) => {
        $(#[$doc])*
        pub(crate) const $name: CellKernels = CellKernels {
            step: kernel!(@set concat!($prefix, "step"), "vec4",
                ["shared/params.wgsl", "shared/activations.wgsl", "shared/cell.wgsl", $body, "step.wgsl"],
                [STEP_WORKGROUP, 1, 1], 0, STEP_BINDINGS, &[("WG", STEP_WORKGROUP)], &STEP_OVERRIDES),
            splitk: kernel!(@set concat!($prefix, "step_splitk"), "vec4",
                ["shared/params.wgsl", "shared/activations.wgsl", "shared/cell.wgsl", $body, "step_splitk.wgsl"],
                [STEP_SPLITK_WORKGROUP, 1, 1],
                (STEP_SPLITK_WORKGROUP * STEP_SPLITK_MAX_BATCH) as u64 * VEC4,
                STEP_BINDINGS,
                &[("SPLIT_WG", STEP_SPLITK_WORKGROUP), ("SPLIT_MAX_BATCH", STEP_SPLITK_MAX_BATCH)],
                &SPLITK_OVERRIDES),
            tiled: kernel!(@set concat!($prefix, "step_tiled"), "vec4",
                ["shared/params.wgsl", "shared/activations.wgsl", "shared/cell.wgsl", $body, "step_tiled.wgsl"],
                [STEP_TILED_WORKGROUP, 1, 1],
                (STEP_TILED_K * STEP_TILED_MAX_UNITS) as u64 * VEC4
                    + (STEP_TILED_MAX_BATCH * (STEP_TILED_K + 1)) as u64 * F32,
                STEP_BINDINGS,
                &[
                    ("TILE_WG", STEP_TILED_WORKGROUP),
                    ("TILE_K", STEP_TILED_K),
                    ("TILE_MAX_UNITS", STEP_TILED_MAX_UNITS),
                    ("TILE_MAX_BATCH", STEP_TILED_MAX_BATCH),
                    ("TILE_MAX_PER", STEP_TILED_MAX_PER),
                ],
                &TILED_OVERRIDES),
            sequence: kernel!(@set concat!($prefix, "step_sequence"), "vec4",
                ["shared/params.wgsl", "shared/activations.wgsl", "shared/cell.wgsl", $body, "step_sequence.wgsl"],
                [STEP_SEQUENCE_WORKGROUP, 1, 1],
                STEP_SEQUENCE_MAX_P as u64 * F32,
                STEP_BINDINGS,
                &[("SEQ_WG", STEP_SEQUENCE_WORKGROUP), ("SEQ_MAX_P", STEP_SEQUENCE_MAX_P)],
                &GATE_OPTION_OVERRIDES),
            resident: [
                resident!($prefix, $body, "workgroup", "step_sequence_resident_workgroup.wgsl", 128, 1),
                resident!($prefix, $body, "workgroup", "step_sequence_resident_workgroup.wgsl", 256, 1),
                resident!($prefix, $body, "workgroup", "step_sequence_resident_workgroup.wgsl", 256, 2),
            ],
            resident_subgroup: [
                resident!($prefix, $body, "subgroup", "step_sequence_resident_subgroup.wgsl", 128, 1),
                resident!($prefix, $body, "subgroup", "step_sequence_resident_subgroup.wgsl", 256, 1),
                resident!($prefix, $body, "subgroup", "step_sequence_resident_subgroup.wgsl", 256, 2),
            ],
        };
    };
}

cell_kernels! {
    /// The LSTM's step kernels (`cells/lstm.wgsl`).
    LSTM = "", "cells/lstm.wgsl"
}

cell_kernels! {
    /// The GRU's step kernels (`cells/gru.wgsl`).
    GRU = "gru_", "cells/gru.wgsl"
}

cell_kernels! {
    /// The plain RNN's step kernels (`cells/rnn.wgsl`).
    RNN = "rnn_", "cells/rnn.wgsl"
}

impl CellKernels {
    /// Every step kernel set of the cell.
    pub fn all(&'static self) -> impl Iterator<Item = &'static [Kernel; 4]> {
        [&self.step, &self.splitk, &self.tiled, &self.sequence]
            .into_iter()
            .chain(&self.resident)
            .chain(&self.resident_subgroup)
    }

    /// The step kernels of `cell`.
    pub fn of(cell: Cell) -> &'static CellKernels {
        match cell {
            Cell::Lstm => &LSTM,
            Cell::Gru => &GRU,
            Cell::Rnn => &RNN,
        }
    }
}
