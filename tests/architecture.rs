//! The tree as a map of the architecture (no GPU needed): the crate's modules sit in layers
//! (base, data, model, formats, backends, serving, training, tools) and import only from their own layer
//! or below, without cycles; within the GPU backend, the modules of `src/backend/gpu/` import
//! each other without cycles, and its `mod.rs` only declares and re-exports; no hand-written
//! source file passes 600 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The child of `src/backend/gpu/` a file belongs to (`engine.rs` → engine, `tune/key.rs` → tune).
fn module_of(gpu: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(gpu).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The `src/backend/gpu/` children a file names: `super::x` from a top-level file, `super::super::x`
/// from a nested one, and `crate::gpu::x` from either.
fn imports(source: &str, nested: bool, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let prefixes: &[&str] = if nested {
        &["super::super::", "crate::gpu::"]
    } else {
        &["super::", "crate::gpu::"]
    };
    let mut found = BTreeSet::new();
    for prefix in prefixes {
        for (at, _) in source.match_indices(prefix) {
            let rest = &source[at + prefix.len()..];
            // `super::{a, b}` or `super::a`
            let names: Vec<&str> = if let Some(list) = rest.strip_prefix('{') {
                list[..list.find('}').unwrap()]
                    .split(',')
                    .map(|s| s.trim().split("::").next().unwrap())
                    .collect()
            } else {
                vec![rest
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap()]
            };
            found.extend(
                names
                    .into_iter()
                    .filter(|n| modules.contains(*n))
                    .map(String::from),
            );
        }
    }
    found
}

/// Panics naming the cycle when the import graph `edges` has one (a depth-first search for a
/// back edge); `tree` names the tree in the message.
fn assert_no_cycle(edges: &BTreeMap<String, BTreeSet<String>>, tree: &str) {
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        tree: &str,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(start) = path.iter().position(|p| p == m) {
            panic!("import cycle in {tree}: {} -> {m}", path[start..].join(" -> "));
        }
        path.push(m.to_string());
        for next in edges.get(m).into_iter().flatten() {
            visit(next, edges, path, done, tree);
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        visit(m, edges, &mut Vec::new(), &mut done, tree);
    }
}

#[test]
fn gpu_modules_import_each_other_without_cycles() {
    let gpu = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backend/gpu");
    let files: Vec<PathBuf> = rust_files(&gpu)
        .into_iter()
        .filter(|f| f.file_name().unwrap() != "mod.rs" || f.parent().unwrap() != gpu)
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&gpu, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&gpu, file);
        let nested = file.parent().unwrap() != gpu;
        let source = std::fs::read_to_string(file).unwrap();
        let mut names = imports(&source, nested, &modules);
        names.remove(&module);
        edges.entry(module).or_default().extend(names);
    }
    assert!(edges.len() >= 10, "modules found: {edges:?}");

    assert_no_cycle(&edges, "src/backend/gpu");
}

#[test]
fn gpu_mod_only_declares_and_reexports() {
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backend/gpu/mod.rs"))
            .unwrap();
    let mut in_use = false;
    for line in source.lines().map(str::trim) {
        let ok = line.is_empty()
            || line.starts_with("//")
            || line.starts_with("mod ")
            || line.starts_with("pub(crate) mod ")
            || line.starts_with("pub use ")
            || line.starts_with("#[cfg(")
            || in_use;
        assert!(ok, "src/backend/gpu/mod.rs holds code: {line}");
        if line.starts_with("pub use ") {
            in_use = !line.ends_with(';');
        } else if in_use && line.ends_with(';') {
            in_use = false;
        }
    }
}

/// The check above finds a cycle where there is one.
#[test]
fn the_cycle_check_sees_imports() {
    let modules: BTreeSet<String> = ["plan", "limits", "engine"].map(String::from).into();
    let found = imports(
        "use super::{limits, plan::Plan};\nuse crate::gpu::engine::Lstm;\nuse super::other;",
        false,
        &modules,
    );
    assert_eq!(found, modules);
    let nested = imports(
        "use super::key::GemmKey;\nuse super::super::plan::Plan;",
        true,
        &modules,
    );
    assert_eq!(nested, ["plan".to_string()].into());
}

/// The crate's layers, lowest first. A module may import from its own layer and those below;
/// the CLI (`src/cli/`, part of the binary) uses only the library's public API.
const LAYERS: &[(&str, &[&str])] = &[
    ("base", &["error", "files"]),
    ("data", &["tensor", "activation", "cell", "config"]),
    ("model", &["convention", "forward", "weights", "error_model"]),
    ("formats", &["onnx", "model_file"]),
    ("backends", &["backend", "backend/cpu", "backend/gpu"]),
    ("serving", &["pool"]),
    ("training", &["train"]),
    ("tools", &["bench", "conform"]),
];

/// The unit of `src/` a file belongs to: its first component (`weights.rs` → weights,
/// `onnx/fold.rs` → onnx), or under `backend/` its first two (`backend/gpu/plan.rs` →
/// backend/gpu).
fn unit_of(src: &Path, file: &Path) -> String {
    let parts: Vec<String> = file
        .strip_prefix(src)
        .unwrap()
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    if parts[0] == "backend" && parts.len() > 2 {
        format!("backend/{}", parts[1])
    } else {
        parts[0].clone()
    }
}

/// The units a source names through `crate::` paths outside comments: `crate::weights::X`,
/// `crate::{config::A, error::B}`, `crate::backend::gpu::Y`.
fn crate_imports(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let paths: Vec<String> = if let Some(list) = rest.strip_prefix('{') {
            list[..list.find('}').unwrap_or(list.len())]
                .split(',')
                .map(|p| p.trim().to_string())
                .collect()
        } else {
            vec![rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap()
                .to_string()]
        };
        for path in paths {
            let mut names = path.split("::").filter(|n| !n.is_empty());
            match names.next() {
                Some("backend") => {
                    if let Some(engine) = names.next() {
                        found.insert(format!("backend/{engine}"));
                    }
                }
                Some(name) if !name.is_empty() => {
                    found.insert(name.to_string());
                }
                _ => {}
            }
        }
    }
    found
}

#[test]
fn the_crate_is_layered_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layer_of = |unit: &str| LAYERS.iter().position(|(_, units)| units.contains(&unit));
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap();
        if rel == Path::new("lib.rs") || rel == Path::new("main.rs") || rel.starts_with("cli") {
            continue;
        }
        let unit = unit_of(&src, &file);
        let layer = layer_of(&unit).unwrap_or_else(|| panic!("{unit} ({}) is in no layer", rel.display()));
        let source = std::fs::read_to_string(&file).unwrap();
        for target in crate_imports(&source) {
            if target == unit {
                continue;
            }
            // Names at the crate root (re-exports in lib.rs) are not units.
            let Some(to) = layer_of(&target) else {
                assert!(
                    !src.join(&target).exists() && !src.join(format!("{target}.rs")).exists(),
                    "{target}, imported by {}, is in no layer",
                    rel.display()
                );
                continue;
            };
            assert!(
                to <= layer,
                "{} ({} layer) imports {target} from the {} layer above it",
                rel.display(),
                LAYERS[layer].0,
                LAYERS[to].0
            );
            edges.entry(unit.clone()).or_default().insert(target);
        }
    }
    assert!(edges.len() >= 12, "units found: {edges:?}");
    assert_no_cycle(&edges, "src");
}

/// The layer check sees grouped, nested and commented imports as they are.
#[test]
fn the_layer_check_reads_imports() {
    let found = crate_imports(
        "use crate::{config::LstmConfig, error::Result};\nuse crate::backend::gpu::shaders::X;\n\
         // crate::train::gpu in a comment\nlet x = crate::weights::LstmWeights::random;",
    );
    let want: BTreeSet<String> = ["config", "error", "backend/gpu", "weights"]
        .map(String::from)
        .into();
    assert_eq!(found, want);
}

/// Hand-written source files stay readable: none passes this many lines (the generated
/// `src/onnx/proto.rs` aside).
const MAX_FILE_LINES: usize = 600;

#[test]
fn no_hand_written_source_file_is_too_long() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = Vec::new();
    for dir in ["src", "python/src", "web/src"] {
        for file in rust_files(&root.join(dir)) {
            if file.ends_with("onnx/proto.rs") {
                continue;
            }
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > MAX_FILE_LINES {
                long.push(format!(
                    "{} ({lines})",
                    file.strip_prefix(root).unwrap().display()
                ));
            }
        }
    }
    assert!(long.is_empty(), "past {MAX_FILE_LINES} lines: {long:?}");
}

/// The cycle search finds a cycle where there is one.
#[test]
#[should_panic(expected = "import cycle in example: a -> b -> a")]
fn the_cycle_search_finds_a_cycle() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), ["b".to_string()].into()),
        ("b".to_string(), ["a".to_string()].into()),
    ]
    .into();
    assert_no_cycle(&edges, "example");
}
