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
    parse_source(kernel.name, &source(kernel, None).unwrap())
}

fn parse_source(name: &str, source: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    Validator::new(
        ValidationFlags::all(),
        Capabilities::SUBGROUP | Capabilities::SHADER_FLOAT16 | Capabilities::SHADER_FLOAT16_IN_FLOAT32,
    )
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

fn shader_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders")
}

/// Every WGSL file under `shaders/` (relative to it, `/`-separated), in every folder.
fn wgsl_files() -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "wgsl") {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                out.insert(rel.replace('\\', "/"));
            }
        }
    }
    let mut files = BTreeSet::new();
    walk(&shader_root(), &shader_root(), &mut files);
    files
}

/// `SHADER_DIR_VARIABLE` reaches every file: with one file of a copy of `shaders/` changed, the
/// source of every kernel made of that file (training kernels included) is read from the copy,
/// and no other kernel's source changes. (GPU tests compile such overrides: tests/train.rs for
/// the training kernels, scripts/mutants.sh for the mutants.)
#[test]
fn the_shader_dir_override_reaches_every_file() {
    let files = wgsl_files();
    assert!(files.iter().any(|f| f.starts_with("train/")), "{files:?}");
    for file in &files {
        let copy = tempfile::tempdir().unwrap();
        for other in &files {
            let to = copy.path().join(other);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(shader_root().join(other), &to).unwrap();
        }
        let marker = format!("// overridden: {file}");
        let text = std::fs::read_to_string(shader_root().join(file)).unwrap();
        std::fs::write(copy.path().join(file), format!("{text}\n{marker}\n")).unwrap();
        let mut reached = 0;
        for kernel in all() {
            let overridden = source(kernel, Some(copy.path())).unwrap();
            let uses = kernel.files.contains(&file.as_str());
            assert_eq!(overridden.contains(&marker), uses, "{}: {file}", kernel.name);
            if !uses {
                assert_eq!(
                    overridden,
                    source(kernel, None).unwrap(),
                    "{}: untouched by {file}",
                    kernel.name
                );
            }
            reached += usize::from(uses);
        }
        assert!(reached > 0, "no kernel reads {file}");
    }
    // A missing file is an error naming it, not the built-in source.
    let empty = tempfile::tempdir().unwrap();
    let err = source(&TRAIN_GEMM, Some(empty.path())).unwrap_err().to_string();
    assert!(err.contains("train/params.wgsl"), "{err}");
}

#[test]
fn every_kernel_validates() {
    for kernel in all() {
        parse(kernel);
    }
}

#[test]
fn every_wgsl_file_belongs_to_a_kernel_and_validates_alone() {
    let root = shader_root();
    let on_disk = wgsl_files();
    let used: BTreeSet<String> = all()
        .flat_map(|k| k.files.iter().map(|f| f.to_string()))
        .collect();
    assert_eq!(on_disk, used, "WGSL files on disk vs files the kernels include");
    // Shared snippets (declarations only) must be valid WGSL after the snippets they build on,
    // the step kernels' shared part with each cell body (which it calls); each weights snippet
    // alone.
    let order = [
        "weights/vec4_f32.wgsl",
        "shared/params.wgsl",
        "shared/activations.wgsl",
    ];
    let shared: Vec<&String> = on_disk.iter().filter(|f| f.starts_with("shared/")).collect();
    assert_eq!(
        shared.len(),
        order.len(),
        "update the order of shared snippets: {shared:?}"
    );
    let read = |f: &str| std::fs::read_to_string(root.join(f)).unwrap();
    for (n, file) in order.iter().enumerate() {
        let src: String = order[..=n].iter().map(|f| read(f)).collect::<Vec<_>>().join("\n");
        parse_source(file, &src);
    }
    let cells: Vec<&String> = on_disk.iter().filter(|f| f.starts_with("cells/")).collect();
    assert_eq!(cells.len(), Cell::ALL.len(), "a cell body per cell: {cells:?}");
    for cell in cells {
        let src: String = order
            .iter()
            .copied()
            .chain(["shared/cell.wgsl", cell.as_str()])
            .map(read)
            .collect::<Vec<_>>()
            .join("\n");
        parse_source(cell, &src);
    }
    for file in on_disk.iter().filter(|f| f.starts_with("weights/")) {
        parse_source(file, &std::fs::read_to_string(root.join(file)).unwrap());
    }
}

/// `source` with each named override made a `const` of the given value, so that naga sizes
/// what the override sizes.
fn with_overrides(source: &str, values: &[(&str, f64)]) -> String {
    let mut out = source.to_string();
    for (name, value) in values {
        let at = out
            .find(&format!("override {name}: "))
            .unwrap_or_else(|| panic!("no override {name}"));
        let end = at + out[at..].find(';').unwrap();
        let declared = &out[at..end];
        let (ty, literal) = if declared.contains(": u32") {
            ("u32", format!("{}u", *value as u32))
        } else if declared.contains(": bool") {
            ("bool", (*value != 0.0).to_string())
        } else {
            ("f32", format!("{value:?}"))
        };
        out.replace_range(at..end, &format!("const {name}: {ty} = {literal}"));
    }
    out
}

/// Bytes of the module's `var<workgroup>` variables.
fn workgroup_bytes(module: &naga::Module) -> u64 {
    module
        .global_variables
        .iter()
        .filter(|(_, v)| v.space == AddressSpace::WorkGroup)
        .map(|(_, v)| module.types[v.ty].inner.size(module.to_ctx()) as u64)
        .sum()
}

/// Every kernel the engine dispatches, in every weight format, with the overrides that select
/// its variant: the workgroup memory it then declares fits what the registry says (which the
/// device's limit is checked against), and the largest variant uses all of it.
#[test]
fn workgroup_memory_of_every_variant_fits_the_registry() {
    let mut refs: Vec<KernelRef> = GemmVariant::ALL.into_iter().map(KernelRef::Gemm).collect();
    refs.extend(
        StepVariant::ALL
            .into_iter()
            .map(|s| KernelRef::Step(s, Schedule::Layers)),
    );
    refs.extend([KernelRef::OutputProjection, KernelRef::PoolRows]);
    let mut largest: std::collections::HashMap<&str, u64> = Default::default();
    for format in [
        WeightFormat::F32,
        WeightFormat::F16,
        WeightFormat::F16Native,
        WeightFormat::Int8,
    ] {
        for subgroups in [None, Some(SEQUENCE_SUBGROUP)] {
            let widths = STEP_SEQUENCE_RESIDENT_SIZES.map(|(wg, units)| (wg * units) as usize);
            for (kernel_ref, cell, width) in refs
                .iter()
                .flat_map(|r| Cell::ALL.map(|c| (r, c)))
                .flat_map(|(r, c)| widths.map(|w| (r, c, w)))
            {
                let kernel = kernel_ref.kernel(cell, format, subgroups, width);
                let source =
                    with_overrides(&source(kernel, None).unwrap(), &kernel_ref.variant_constants(100));
                let bytes = workgroup_bytes(&parse_source(kernel.name, &source));
                assert!(bytes <= kernel.workgroup_bytes, "{kernel_ref:?}: {bytes} bytes");
                let max = largest.entry(kernel.name).or_default();
                *max = (*max).max(bytes);
            }
        }
    }
    // The training kernels have no overrides.
    for kernel in TRAINING {
        largest.insert(kernel.name, workgroup_bytes(&parse(kernel)));
    }
    for kernel in all() {
        assert_eq!(
            largest.get(kernel.name),
            Some(&kernel.workgroup_bytes),
            "{}",
            kernel.name
        );
    }
}

#[test]
fn entry_points_match_the_host_layouts() {
    for kernel in all() {
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
        for (_, var) in module.global_variables.iter() {
            let ty = &module.types[var.ty].inner;
            let Some(binding) = &var.binding else {
                continue;
            };
            let name = var.name.clone().unwrap_or_default();
            assert_eq!(binding.group, 0, "{}: {name} not in group 0", kernel.name);
            let host = *kernel.bindings.get(binding.binding as usize).unwrap_or_else(|| {
                panic!(
                    "{}: {name} at binding {} unknown to the host",
                    kernel.name, binding.binding
                )
            });
            match (host, var.space) {
                (BindingKind::Uniform { size, .. }, AddressSpace::Uniform) => {
                    let span = ty.size(module.to_ctx()) as u64;
                    assert_eq!(span, size, "{}: {name} uniform size", kernel.name);
                }
                (
                    BindingKind::Storage { .. } | BindingKind::Weights { .. },
                    AddressSpace::Storage { access },
                ) => {
                    let read_only = !matches!(host, BindingKind::Storage { read_only: false, .. });
                    assert_eq!(
                        read_only,
                        !access.contains(StorageAccess::STORE),
                        "{}: {name} access",
                        kernel.name
                    );
                    let TypeInner::Array { stride, .. } = ty else {
                        panic!("{}: {name} is not a runtime array", kernel.name)
                    };
                    assert_eq!(
                        *stride as u64,
                        kernel.element_bytes(host),
                        "{}: {name} element size",
                        kernel.name
                    );
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

/// Each constant the host mirrors (tile sizes, rows and units per invocation, split factors) has
/// the host's value in the WGSL.
#[test]
fn mirrored_constants_match_the_wgsl() {
    for kernel in all() {
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
    // A 16×16 projection workgroup covers each tile with register blocks of at most 8×8, whose
    // sides are multiples of 4.
    for gemm in GemmVariant::ALL {
        if let GemmVariant::Tiled { m, n, k } = gemm {
            for side in [m, n] {
                assert!(
                    side % (4 * INPUT_PROJECTION_WG) == 0
                        && side / INPUT_PROJECTION_WG <= INPUT_PROJECTION_MAX_BLOCK,
                    "{gemm:?}"
                );
            }
            assert!(k > 0);
        }
    }
    // The split-K and tiled steps' shapes fit their workgroups.
    for step in StepVariant::ALL {
        match step {
            StepVariant::SplitK { units, batch } => {
                assert!(
                    STEP_SPLITK_WORKGROUP.is_multiple_of(units) && batch <= STEP_SPLITK_MAX_BATCH,
                    "{step:?}"
                )
            }
            StepVariant::Tiled { units, batch } => assert!(
                units <= STEP_TILED_MAX_UNITS
                    && batch <= STEP_TILED_MAX_BATCH
                    && batch * units <= STEP_TILED_WORKGROUP * STEP_TILED_MAX_PER,
                "{step:?}"
            ),
            _ => {}
        }
    }
}

/// The overrides each kernel declares are exactly those the host sets, and the gate options are
/// produced under the names the table gives.
#[test]
fn overrides_match_what_the_host_sets() {
    for kernel in all() {
        let module = parse(kernel);
        let declared: BTreeSet<String> = module
            .overrides
            .iter()
            // Unnamed overrides are naga's own, for override expressions.
            .filter_map(|(_, o)| o.name.clone())
            .collect();
        let host: BTreeSet<String> = kernel.overrides.iter().map(|s| s.to_string()).collect();
        assert_eq!(declared, host, "{}: overrides", kernel.name);
    }
    let config = crate::LstmConfig::default();
    let names: Vec<&str> = gate_option_constants(&config).iter().map(|(n, _)| *n).collect();
    assert_eq!(names, GATE_OPTION_OVERRIDES);
    let mut refs: Vec<KernelRef> = GemmVariant::ALL.into_iter().map(KernelRef::Gemm).collect();
    refs.extend(
        StepVariant::ALL
            .into_iter()
            .map(|s| KernelRef::Step(s, Schedule::Layers)),
    );
    refs.push(KernelRef::Step(StepVariant::Batch4, Schedule::Wavefront));
    refs.push(KernelRef::OutputProjection);
    for kernel in refs {
        let k = kernel.kernel(Cell::Lstm, WeightFormat::F32, None, 7);
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
    let module = parse(&LSTM.step[0]);
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

/// The register-resident kernel's sizes are those the registry builds, each the smallest that
/// holds its widths, and the largest is the one the variants' `fits` allows; its generated
/// lines unroll over every value of h the size holds.
#[test]
fn resident_sizes_match_the_registry() {
    let max = STEP_SEQUENCE_RESIDENT_SIZES
        .iter()
        .map(|&(wg, u)| wg * u)
        .max()
        .unwrap();
    assert_eq!(max as usize, super::super::variants::SEQUENCE_RESIDENT_MAX);
    let step = KernelRef::Step(StepVariant::SequenceResident, Schedule::Layers);
    for subgroups in [None, Some(SEQUENCE_SUBGROUP)] {
        let mut previous = 0;
        for &(wg, units) in &STEP_SEQUENCE_RESIDENT_SIZES {
            let res = (wg * units) as usize;
            for width in [previous + 1, res] {
                let kernel = step.kernel(Cell::Lstm, WeightFormat::F32, subgroups, width);
                assert_eq!(kernel.workgroup_size, [wg, 1, 1], "{width}");
                let text = source(kernel, None).unwrap();
                assert!(
                    !text.lines().any(|l| l.trim_start().starts_with("// GENERATED: ")),
                    "{}",
                    kernel.name
                );
                let last = res - 1;
                assert!(text.contains(&format!(
                    "r[{}], z[{}]",
                    (units as usize - 1) * res + last,
                    units - 1
                )));
                assert!(text.contains(&format!("if ({last}u < SEQ_P)")), "{}", kernel.name);
                assert!(
                    !text.contains(&format!("r[{}]", units as usize * res)),
                    "{}",
                    kernel.name
                );
            }
            previous = res;
        }
    }
}

/// A WGSL mutant of `tests/mutants/`: `find` (exactly once in `file`) becomes `replace`.
struct Mutant {
    name: String,
    file: String,
    find: String,
    replace: String,
}

/// The classes of mutants: a barrier removed, an exp/tanh/sigmoid (or an optimizer's arithmetic)
/// off by about 10⁻⁴ or rounded to 12 bits, an off-by-one in a length or bounds guard, a sum
/// that loses or misorders terms, a wrong index, and other wrong semantics.
const MUTANT_CLASSES: [&str; 6] = [
    "barrier",
    "precision",
    "bounds",
    "accumulation",
    "indexing",
    "semantics",
];

/// The catalog, in the format `scripts/mutants.sh` reads: `# description`, `file: PATH`,
/// `class: …`, optionally `variants: …` and `conform: …`, then `--- find` and `--- replace`
/// blocks.
fn mutants() -> Vec<Mutant> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mutants");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "equivalent.txt" {
            continue;
        }
        assert!(name.ends_with(".mutant"), "{name}: not a .mutant file");
        let text = std::fs::read_to_string(&path).unwrap();
        let (header, rest) = text
            .split_once("\n--- find\n")
            .unwrap_or_else(|| panic!("{name}: no --- find"));
        let (find, replace) = rest
            .split_once("\n--- replace\n")
            .unwrap_or_else(|| panic!("{name}: no --- replace"));
        let field = |key: &str| {
            header
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("{name}: no {key}"))
                .trim()
                .to_string()
        };
        assert!(header.starts_with("# "), "{name}: no description");
        let class = field("class:");
        assert!(MUTANT_CLASSES.contains(&class.as_str()), "{name}: class {class}");
        let file = field("file:");
        out.push(Mutant {
            name,
            file,
            find: find.to_string(),
            replace: replace.trim_end_matches('\n').to_string(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Every mutant changes its file at exactly one place and leaves valid WGSL behind (so the
/// conformance run, not the compiler, has to catch it), at least 20 of them, touching every
/// WGSL file of the registry; and every listed equivalent mutant exists.
#[test]
fn every_mutant_applies_once_and_validates() {
    let catalog = mutants();
    assert!(catalog.len() >= 20, "{} mutants", catalog.len());
    let mut touched = BTreeSet::new();
    for m in &catalog {
        let kernels: Vec<&Kernel> = all().filter(|k| k.files.contains(&m.file.as_str())).collect();
        assert!(!kernels.is_empty(), "{}: no kernel uses {}", m.name, m.file);
        assert_ne!(m.find, m.replace, "{}", m.name);
        // Kernels of the same files differ only in their constants (the register-resident
        // kernel's sizes): the mutant validates in the first, the smallest.
        let mut validated = BTreeSet::new();
        for kernel in kernels {
            assert_eq!(
                kernel.source.matches(&m.find).count(),
                1,
                "{}: in {}",
                m.name,
                kernel.name
            );
            if !validated.insert(kernel.files) {
                continue;
            }
            let mutated = generated::expand(
                kernel.source.replacen(&m.find, &m.replace, 1).into(),
                kernel.consts,
            );
            parse_source(&format!("{} in {}", m.name, kernel.name), &mutated);
        }
        touched.insert(m.file.clone());
    }
    let equivalent =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mutants/equivalent.txt"))
            .unwrap();
    for line in equivalent.lines().filter(|l| !l.trim().is_empty()) {
        let (name, reason) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("equivalent.txt: {line:?} is not `name: reason`"));
        assert!(
            catalog.iter().any(|m| m.name == format!("{name}.mutant")),
            "equivalent.txt lists {name}, which is no mutant"
        );
        assert!(reason.len() > 20, "equivalent.txt: {name} needs its reason");
    }
    // Every file of every kernel, training included: a new kernel file needs mutants.
    for kernel in all() {
        for file in kernel.files {
            assert!(touched.contains(*file), "no mutant touches {file}");
        }
    }
}
