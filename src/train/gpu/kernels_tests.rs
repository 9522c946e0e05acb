//! The training kernels checked without a GPU: every uniform block the host writes has the
//! layout the WGSL reads, and each sequence kernel runs the group size its composed part
//! declares.

use naga::valid::{Capabilities, ValidationFlags, Validator};
use naga::{Expression, Literal};

use super::*;
use crate::cell::Cell;

fn module(kernel: TrainKernel) -> naga::Module {
    let source = kernel.kernel().source;
    let name = kernel.kernel().name;
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    module
}

fn const_u32(module: &naga::Module, name: &str) -> u32 {
    let (_, c) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no const {name}"));
    match module.global_expressions[c.init] {
        Expression::Literal(Literal::U32(v)) => v,
        ref other => panic!("const {name} is not a u32 literal: {other:?}"),
    }
}

/// A WGSL struct's members as (name, byte offset), and its size.
fn wgsl_struct(module: &naga::Module, name: &str) -> (Vec<(String, u32)>, u32) {
    let ty = module
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no struct {name}"))
        .1;
    let naga::TypeInner::Struct { members, span } = &ty.inner else {
        panic!("{name} is not a struct");
    };
    let members = members
        .iter()
        .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
        .collect();
    (members, *span)
}

/// A host struct's fields as (name, byte offset), and its size, as `wgsl_struct` gives them.
macro_rules! host_struct {
    ($ty:ty: $($field:ident),+ $(,)?) => {
        (
            vec![$((stringify!($field).to_string(), std::mem::offset_of!($ty, $field) as u32)),+],
            std::mem::size_of::<$ty>() as u32,
        )
    };
}

/// Workgroup sizes, bindings and mirrored constants are checked for every kernel of the registry
/// (`gpu::shaders`); here, the uniform blocks member by member, the flags, and the composed group
/// sizes.
#[test]
fn training_kernels_agree_with_the_host_parameters() {
    for cell in [Cell::Lstm, Cell::Gru, Cell::Rnn] {
        for (kernel, group) in [
            (TrainKernel::Forward(cell, 1), 1),
            (TrainKernel::Backward(cell, 1), 1),
            (TrainKernel::Forward(cell, SEQ_GROUP), SEQ_GROUP),
            (TrainKernel::Backward(cell, SEQ_GROUP), SEQ_GROUP),
        ] {
            let m = module(kernel);
            let name = kernel.kernel().name;
            assert_eq!(const_u32(&m, "SEQ_GROUP") as usize, group, "{name}");
            // The tape plan and the GEMMs size the cell's rows and lanes as its body does.
            assert_eq!(const_u32(&m, "GATES") as usize, cell.gates(), "{name}");
            assert_eq!(
                const_u32(&m, "LANES") as usize,
                crate::train::lanes(cell),
                "{name}"
            );
        }
    }
    let seq_module = module(TrainKernel::Backward(Cell::Lstm, SEQ_GROUP));
    let structs = [
        (
            &seq_module,
            "SeqParams",
            host_struct!(SeqParams: seq_len, batch, hidden, out, dirs, reverse_mask, stride_t,
                stride_b, input_forget, clip, flags, state_slot, h0, c0, hn, cn, t_y, t_z, t_c,
                t_cprev, t_hprev, t_m, w_dg, w_dh, w_dcarry, w_peep, w_hh, b_ih, b_hh, peep, w_hr,
                act),
        ),
        (
            &seq_module,
            "Activation",
            host_struct!(ActivationParams: kind, alpha, beta, _pad),
        ),
        (
            &module(TrainKernel::Gemm),
            "MatmulParams",
            host_struct!(MatmulParams: m, n, k, a_off, a_rs, a_cs, b_off, b_rs, b_cs, c_off, c_rs,
                accumulate),
        ),
        (
            &module(TrainKernel::Transpose),
            "TransposeParams",
            host_struct!(TransposeParams: rows, cols, src_off, dst_off),
        ),
        (
            &module(TrainKernel::Update),
            "OptimizerParams",
            host_struct!(OptimizerParams: count, kind, lr, momentum, beta2, eps, correct1, correct2,
                max_norm),
        ),
    ];
    for (module, name, host) in structs {
        assert_eq!(
            wgsl_struct(module, name),
            host,
            "{name}: WGSL members vs the host's"
        );
    }
    for (name, value) in [
        ("FLAG_BIAS", SeqParams::FLAG_BIAS),
        ("FLAG_PEEPHOLE", SeqParams::FLAG_PEEPHOLE),
        ("FLAG_PROJECTION", SeqParams::FLAG_PROJECTION),
        ("FLAG_RESET_BEFORE", SeqParams::FLAG_RESET_BEFORE),
        ("SEQ_WORKGROUP", crate::backend::gpu::shaders::TRAIN_SEQ_WORKGROUP),
    ] {
        assert_eq!(const_u32(&seq_module, name), value, "{name}");
    }
    for kernel in [TrainKernel::Gemm, TrainKernel::GemmDirect] {
        assert_eq!(const_u32(&module(kernel), "TILE"), GEMM_TILE);
    }
    let u = module(TrainKernel::Update);
    assert_eq!(const_u32(&u, "UPDATE_WORKGROUP"), OPT_WORKGROUP);
    assert_eq!(
        const_u32(&module(TrainKernel::Norm), "NORM_WORKGROUP"),
        OPT_WORKGROUP
    );
    // The host's clipping epsilon is the kernel's.
    assert!(u
        .constants
        .iter()
        .any(|(_, c)| c.name.as_deref() == Some("CLIP_EPS")));
}
