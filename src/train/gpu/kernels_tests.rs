//! The training kernels checked without a GPU: every word index the host writes has the value the
//! WGSL reads, and each sequence kernel runs the group size its composed part declares.

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

/// Workgroup sizes, bindings and mirrored constants are checked for every kernel of the registry
/// (`gpu::shaders`); here, the words of the uniform blocks and the composed group sizes.
#[test]
fn training_kernels_agree_with_the_host_words() {
    for (kernel, group) in [
        (TrainKernel::Forward(Cell::Lstm, 1), 1),
        (TrainKernel::Backward(Cell::Lstm, 1), 1),
        (TrainKernel::Forward(Cell::Lstm, SEQ_GROUP), SEQ_GROUP),
        (TrainKernel::Backward(Cell::Lstm, SEQ_GROUP), SEQ_GROUP),
    ] {
        assert_eq!(
            const_u32(&module(kernel), "SEQ_GROUP") as usize,
            group,
            "{}",
            kernel.kernel().name
        );
    }
    let seq_module = module(TrainKernel::Backward(Cell::Lstm, SEQ_GROUP));
    for (name, value) in [
        ("SEQ_LEN", seq::SEQ_LEN),
        ("BATCH", seq::BATCH),
        ("HIDDEN", seq::HIDDEN),
        ("OUT", seq::OUT),
        ("DIRS", seq::DIRS),
        ("REVERSE_MASK", seq::REVERSE_MASK),
        ("STRIDE_T", seq::STRIDE_T),
        ("STRIDE_B", seq::STRIDE_B),
        ("INPUT_FORGET", seq::INPUT_FORGET),
        ("CLIP", seq::CLIP),
        ("FLAGS", seq::FLAGS),
        ("STATE_SLOT", seq::STATE_SLOT),
        ("H0", seq::H0),
        ("C0", seq::C0),
        ("HN", seq::HN),
        ("CN", seq::CN),
        ("T_Y", seq::T_Y),
        ("T_Z", seq::T_Z),
        ("T_C", seq::T_C),
        ("T_CPREV", seq::T_CPREV),
        ("T_HPREV", seq::T_HPREV),
        ("T_M", seq::T_M),
        ("W_DG", seq::W_DG),
        ("W_DH", seq::W_DH),
        ("W_DCARRY", seq::W_DCARRY),
        ("W_PEEP", seq::W_PEEP),
        ("P_W_HH", seq::P_W_HH),
        ("P_B_IH", seq::P_B_IH),
        ("P_B_HH", seq::P_B_HH),
        ("P_PEEP", seq::P_PEEP),
        ("P_W_HR", seq::P_W_HR),
        ("ACT", seq::ACT),
        (
            "SEQ_WORKGROUP",
            crate::backend::gpu::shaders::TRAIN_SEQ_WORKGROUP as usize,
        ),
    ] {
        assert_eq!(const_u32(&seq_module, name) as usize, value, "{name}");
    }
    for (name, value) in [
        ("FLAG_BIAS", seq::FLAG_BIAS),
        ("FLAG_PEEPHOLE", seq::FLAG_PEEPHOLE),
        ("FLAG_PROJECTION", seq::FLAG_PROJECTION),
    ] {
        assert_eq!(const_u32(&seq_module, name), value, "{name}");
    }
    // Direction 1's words stay inside the block.
    const { assert!(seq::ACT + 9 * 2 <= WORDS) };
    for kernel in [TrainKernel::Gemm, TrainKernel::GemmDirect] {
        let g = module(kernel);
        for (name, value) in [
            ("G_M", gemm::M),
            ("G_N", gemm::N),
            ("G_K", gemm::K),
            ("A_OFF", gemm::A_OFF),
            ("A_RS", gemm::A_RS),
            ("A_CS", gemm::A_CS),
            ("B_OFF", gemm::B_OFF),
            ("B_RS", gemm::B_RS),
            ("B_CS", gemm::B_CS),
            ("C_OFF", gemm::C_OFF),
            ("C_RS", gemm::C_RS),
            ("ACCUMULATE", gemm::ACCUMULATE),
            ("TILE", GEMM_TILE as usize),
        ] {
            assert_eq!(const_u32(&g, name) as usize, value, "{name}");
        }
    }
    let u = module(TrainKernel::Update);
    for (name, value) in [
        ("O_COUNT", opt::COUNT),
        ("O_KIND", opt::KIND),
        ("O_LR", opt::LR),
        ("O_MOMENTUM", opt::MOMENTUM),
        ("O_BETA2", opt::BETA2),
        ("O_EPS", opt::EPS),
        ("O_CORRECT1", opt::CORRECT1),
        ("O_CORRECT2", opt::CORRECT2),
        ("O_MAX_NORM", opt::MAX_NORM),
        ("UPDATE_WORKGROUP", OPT_WORKGROUP as usize),
    ] {
        assert_eq!(const_u32(&u, name) as usize, value, "{name}");
    }
    let t = module(TrainKernel::Transpose);
    for (name, value) in [
        ("X_ROWS", transpose::ROWS),
        ("X_COLS", transpose::COLS),
        ("X_SRC", transpose::SRC),
        ("X_DST", transpose::DST),
    ] {
        assert_eq!(const_u32(&t, name) as usize, value, "{name}");
    }
    let n = module(TrainKernel::Norm);
    assert_eq!(const_u32(&n, "O_COUNT") as usize, opt::COUNT);
    assert_eq!(const_u32(&n, "NORM_WORKGROUP"), OPT_WORKGROUP);
    // The host's clipping epsilon is the kernel's.
    assert!(u
        .constants
        .iter()
        .any(|(_, c)| c.name.as_deref() == Some("CLIP_EPS")));
}
