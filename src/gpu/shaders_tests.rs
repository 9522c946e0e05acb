//! Shader validation that needs no GPU: every WGSL file parses and validates with naga, every
//! file is part of a kernel, and each kernel agrees with the host about its workgroup size and
//! memory, its bindings (group, index, uniform/storage, access and element size), the constants
//! the host mirrors and the overrides it sets.

use std::collections::BTreeSet;
use std::path::Path;

use naga::valid::{Capabilities, ValidationFlags, Validator};
use naga::{AddressSpace, Expression, Literal, StorageAccess, TypeInner};

use super::*;
use crate::activation::ActivationKind;

fn parse(kernel: &Kernel) -> naga::Module {
    parse_source(kernel.name, kernel.source)
}

fn parse_source(name: &str, source: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    Validator::new(ValidationFlags::all(), Capabilities::SUBGROUP)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    module
}

/// The value of a `const NAME: u32 = …u;` declared in the module.
fn const_u32(module: &naga::Module, name: &str) -> Option<u32> {
    module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))
        .map(|(_, c)| match module.global_expressions[c.init] {
            Expression::Literal(Literal::U32(v)) => v,
            ref other => panic!("const {name} is not a u32 literal: {other:?}"),
        })
}

#[test]
fn every_kernel_validates() {
    for kernel in ALL {
        parse(kernel);
    }
}

#[test]
fn every_wgsl_file_belongs_to_a_kernel_and_validates_alone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut on_disk = BTreeSet::new();
    for dir in [root.clone(), root.join("shared")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "wgsl") {
                on_disk.insert(
                    path.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let used: BTreeSet<String> = ALL
        .iter()
        .flat_map(|k| k.files.iter().map(|f| f.to_string()))
        .collect();
    assert_eq!(on_disk, used, "WGSL files on disk vs files the kernels include");
    // Shared snippets (declarations only) must be valid WGSL after the snippets they build on.
    let order = [
        "shared/params.wgsl",
        "shared/activations.wgsl",
        "shared/cell.wgsl",
        "shared/splitk.wgsl",
    ];
    let shared: Vec<&String> = on_disk.iter().filter(|f| f.starts_with("shared/")).collect();
    assert_eq!(
        shared.len(),
        order.len(),
        "update the order of shared snippets: {shared:?}"
    );
    for (n, file) in order.iter().enumerate() {
        let src: String = order[..=n]
            .iter()
            .map(|f| std::fs::read_to_string(root.join(f)).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        parse_source(file, &src);
    }
}

#[test]
fn entry_points_match_the_host_layouts() {
    for kernel in ALL {
        let module = parse(kernel);
        let entry = module
            .entry_points
            .iter()
            .find(|e| e.name == ENTRY_POINT)
            .unwrap_or_else(|| panic!("{}: no entry point '{ENTRY_POINT}'", kernel.name));
        assert_eq!(entry.stage, naga::ShaderStage::Compute, "{}", kernel.name);
        assert_eq!(
            entry.workgroup_size, kernel.workgroup_size,
            "{}: workgroup size",
            kernel.name
        );

        let mut seen = Vec::new();
        let mut workgroup_bytes = 0;
        for (_, var) in module.global_variables.iter() {
            let ty = &module.types[var.ty].inner;
            if var.space == AddressSpace::WorkGroup {
                workgroup_bytes += ty.size(module.to_ctx()) as u64;
            }
            let Some(binding) = &var.binding else {
                continue;
            };
            let name = var.name.clone().unwrap_or_default();
            assert_eq!(binding.group, 0, "{}: {name} not in group 0", kernel.name);
            let host = kernel.bindings.get(binding.binding as usize).unwrap_or_else(|| {
                panic!(
                    "{}: {name} at binding {} unknown to the host",
                    kernel.name, binding.binding
                )
            });
            match (*host, var.space) {
                (BindingKind::Uniform { size, .. }, AddressSpace::Uniform) => {
                    let span = ty.size(module.to_ctx()) as u64;
                    assert_eq!(span, size, "{}: {name} uniform size", kernel.name);
                }
                (BindingKind::Storage { read_only, element }, AddressSpace::Storage { access }) => {
                    assert_eq!(
                        read_only,
                        !access.contains(StorageAccess::STORE),
                        "{}: {name} access",
                        kernel.name
                    );
                    let TypeInner::Array { stride, .. } = ty else {
                        panic!("{}: {name} is not a runtime array", kernel.name)
                    };
                    assert_eq!(*stride as u64, element, "{}: {name} element size", kernel.name);
                }
                (host, space) => panic!(
                    "{}: {name} is {space:?} in WGSL but {host:?} on the host",
                    kernel.name
                ),
            }
            seen.push(binding.binding);
        }
        seen.sort();
        let expected: Vec<u32> = (0..kernel.bindings.len() as u32).collect();
        assert_eq!(
            seen, expected,
            "{}: bindings declared in WGSL vs host layout",
            kernel.name
        );
        assert_eq!(
            workgroup_bytes, kernel.workgroup_bytes,
            "{}: workgroup memory",
            kernel.name
        );
    }
}

/// Each constant the host mirrors (tile sizes, rows and units per invocation, split factors) has
/// the host's value in the WGSL.
#[test]
fn mirrored_constants_match_the_wgsl() {
    for kernel in ALL {
        let module = parse(kernel);
        for &(name, value) in kernel.consts {
            assert_eq!(
                const_u32(&module, name),
                Some(value),
                "{}: const {name}",
                kernel.name
            );
        }
    }
    // A 16×16 projection workgroup with 4×4 register blocks covers the 64×64 tile.
    let [x, y, _] = INPUT_PROJECTION.workgroup_size;
    assert_eq!((x * 4, y * 4), (INPUT_PROJECTION_TILE, INPUT_PROJECTION_TILE));
}

/// The overrides each kernel declares are exactly those the host sets, and the gate options are
/// produced under the names the table gives.
#[test]
fn overrides_match_what_the_host_sets() {
    for kernel in ALL {
        let module = parse(kernel);
        let declared: BTreeSet<String> = module
            .overrides
            .iter()
            .map(|(_, o)| o.name.clone().expect("named override"))
            .collect();
        let host: BTreeSet<String> = kernel.overrides.iter().map(|s| s.to_string()).collect();
        assert_eq!(declared, host, "{}: overrides", kernel.name);
    }
    let config = crate::LstmConfig::default();
    let names: Vec<&str> = gate_option_constants(&config).iter().map(|(n, _)| *n).collect();
    assert_eq!(names, GATE_OPTION_OVERRIDES);
    for kernel in [
        KernelRef::Step(StepVariant::Batch4, Schedule::Wavefront),
        KernelRef::Step(StepVariant::SplitK, Schedule::Layers),
        KernelRef::Gemm(GemmVariant::Tiled),
        KernelRef::OutputProjection,
    ] {
        let k = kernel.kernel(None);
        let mut set: Vec<&str> = kernel.variant_constants(7).iter().map(|(n, _)| *n).collect();
        if kernel.takes_gate_options() {
            set.extend(GATE_OPTION_OVERRIDES);
        }
        set.sort();
        let mut expected = k.overrides.to_vec();
        expected.sort();
        assert_eq!(set, expected, "{kernel:?}");
    }
}

/// The activation ids the host passes are the WGSL switch's named cases.
#[test]
fn activation_ids_match_the_wgsl() {
    let module = parse(&STEP);
    for kind in ActivationKind::ALL {
        // LeakyRelu -> LEAKY_RELU
        let mut wgsl = String::new();
        for (i, c) in kind.name().chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                wgsl.push('_');
            }
            wgsl.push(c.to_ascii_uppercase());
        }
        assert_eq!(const_u32(&module, &wgsl), Some(kind.id()), "{wgsl}");
    }
}

/// The regions of the register-resident sequence kernels between `// GENERATED BEGIN` and
/// `// GENERATED END`, in order: the unit's column of R, then z += R·h (with h from workgroup
/// memory, or broadcast within subgroups).
fn sequence_resident_regions(subgroup: bool) -> Vec<String> {
    let n = STEP_SEQUENCE_RESIDENT;
    let loads = (0..n)
        .map(|k| format!("    let r{k} = r[r_col + min({k}u, last_k) * hidden];"))
        .collect::<Vec<_>>()
        .join("\n");
    let products = if subgroup {
        (0..n / SEQUENCE_SUBGROUP)
            .flat_map(|block| {
                let k0 = block * SEQUENCE_SUBGROUP;
                std::iter::once(format!(
                    "        let h{block} = state[h_at + min({k0}u + lane, last_k)];"
                ))
                .chain((0..SEQUENCE_SUBGROUP).map(move |i| {
                    let k = k0 + i;
                    format!(
                        "        if ({k}u < SEQ_P) {{ z = fma(vec4<f32>(subgroupBroadcast(h{block}, {i}u)), r{k}, z); }}"
                    )
                }))
            })
            .collect::<Vec<_>>()
    } else {
        (0..n)
            .map(|k| format!("        if ({k}u < SEQ_P) {{ z = fma(vec4<f32>(h_step[{k}]), r{k}, z); }}"))
            .collect()
    };
    vec![loads, products.join("\n")]
}

/// The unrolled kernels hold exactly what their generator writes (edit the generator, not the
/// WGSL; `WGPU_LSTM_REGENERATE=1 cargo test` rewrites the regions).
#[test]
fn generated_regions_match_their_generator() {
    for (kernel, subgroup) in [
        (&STEP_SEQUENCE_RESIDENT_KERNEL, false),
        (&STEP_SEQUENCE_RESIDENT_SUBGROUP, true),
    ] {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("shaders")
            .join(kernel.files.last().unwrap());
        let text = std::fs::read_to_string(&file).unwrap();
        let mut parts: Vec<&str> = Vec::new();
        let mut rest = text.as_str();
        while let Some(begin) = rest.find("// GENERATED BEGIN") {
            let body_at = begin + rest[begin..].find('\n').unwrap() + 1;
            let end = body_at + rest[body_at..].find("// GENERATED END").unwrap();
            // Up to the indentation of the END marker's line.
            let body_end = rest[..end].rfind('\n').unwrap();
            parts.push(&rest[body_at..body_end]);
            rest = &rest[end..];
        }
        let expected = sequence_resident_regions(subgroup);
        if std::env::var("WGPU_LSTM_REGENERATE").is_ok_and(|v| v == "1") {
            let mut out = text.clone();
            for (old, new) in parts.iter().zip(&expected) {
                out = out.replacen(old, new, 1);
            }
            std::fs::write(&file, out).unwrap();
            continue;
        }
        assert_eq!(parts.len(), expected.len(), "{}: regions", kernel.name);
        for (n, (got, want)) in parts.iter().zip(&expected).enumerate() {
            assert!(
                got == want,
                "{}: region {n} differs from its generator",
                kernel.name
            );
        }
    }
}
