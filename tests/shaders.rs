//! Shader validation that needs no GPU: every WGSL file parses and validates with naga, every
//! file is part of a kernel, and each kernel's entry point agrees with the host about its
//! workgroup size and its bindings (group, index, uniform/storage, access and element size).

use std::collections::BTreeSet;
use std::path::Path;

use naga::valid::{Capabilities, ValidationFlags, Validator};
use naga::{AddressSpace, StorageAccess, TypeInner};
use wgpu_lstm::gpu::shaders::{self, BindingKind, Kernel};

fn parse(kernel: &Kernel) -> naga::Module {
    let module = naga::front::wgsl::parse_str(kernel.source)
        .unwrap_or_else(|e| panic!("{}: {}", kernel.name, e.emit_to_string(kernel.source)));
    Validator::new(ValidationFlags::all(), Capabilities::SUBGROUP)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {}", kernel.name, e.emit_to_string(kernel.source)));
    module
}

#[test]
fn every_kernel_validates() {
    for kernel in shaders::ALL {
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
    let used: BTreeSet<String> = shaders::ALL
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
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(&src)));
        Validator::new(ValidationFlags::all(), Capabilities::SUBGROUP)
            .validate(&module)
            .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(&src)));
    }
}

#[test]
fn entry_points_match_the_host_layouts() {
    for kernel in shaders::ALL {
        let module = parse(kernel);
        let entry = module
            .entry_points
            .iter()
            .find(|e| e.name == shaders::ENTRY_POINT)
            .unwrap_or_else(|| panic!("{}: no entry point '{}'", kernel.name, shaders::ENTRY_POINT));
        assert_eq!(entry.stage, naga::ShaderStage::Compute, "{}", kernel.name);
        assert_eq!(
            entry.workgroup_size, kernel.workgroup_size,
            "{}: workgroup size",
            kernel.name
        );

        let mut seen = Vec::new();
        for (_, var) in module.global_variables.iter() {
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
            let ty = &module.types[var.ty].inner;
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
    }
}

#[test]
fn workgroup_constants_mirror_the_wgsl() {
    assert_eq!(shaders::STEP.workgroup_size[0], shaders::STEP_WORKGROUP);
    // A 16×16 projection workgroup with 4×4 register blocks covers the 64×64 tile.
    let [x, y, _] = shaders::INPUT_PROJECTION.workgroup_size;
    assert_eq!(x * 4, shaders::INPUT_PROJECTION_TILE);
    assert_eq!(y * 4, shaders::INPUT_PROJECTION_TILE);
    assert!(shaders::INPUT_PROJECTION
        .source
        .contains(&format!("const TILE: u32 = {}u;", shaders::INPUT_PROJECTION_TILE)));
    assert!(shaders::STEP
        .source
        .contains(&format!("const WG: u32 = {}u;", shaders::STEP_WORKGROUP)));
    assert!(shaders::INPUT_PROJECTION_BLOCKED.source.contains(&format!(
        "const ROWS: u32 = {}u;",
        shaders::INPUT_PROJECTION_BLOCKED_ROWS
    )));
    assert!(shaders::INPUT_PROJECTION_BLOCKED.source.contains(&format!(
        "const WG: u32 = {}u;",
        shaders::INPUT_PROJECTION_BLOCKED.workgroup_size[0]
    )));
}
