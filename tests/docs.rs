//! The docs match the code (no GPU needed): the README is a front page that links every page of
//! `docs/`, every page with Rust code is compiled as doc tests, and every name the crate's root
//! exports (and `gpu::`) is in the public API listing of docs/architecture.md and every name the
//! listing gives is public in `src/`, so the API cannot grow, shrink or be renamed without the
//! listing.

use std::path::Path;

/// The README stays a front page: at most this many lines.
const README_MAX_LINES: usize = 300;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn doc_pages() -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    pages.sort();
    pages
}

#[test]
fn the_readme_is_a_front_page_linking_every_doc() {
    let readme = read("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines (at most {README_MAX_LINES})"
    );
    let pages = doc_pages();
    assert!(pages.len() >= 8, "{pages:?}");
    for page in pages {
        assert!(
            readme.contains(&format!("(docs/{page})")),
            "README.md does not link docs/{page}"
        );
    }
}

#[test]
fn every_doc_with_rust_code_is_doc_tested() {
    let lib = read("src/lib.rs");
    for page in doc_pages() {
        if read(&format!("docs/{page}")).contains("```rust") {
            assert!(
                lib.contains(&format!("include_str!(\"../docs/{page}\")")),
                "docs/{page} has Rust code that src/lib.rs does not compile as doc tests"
            );
        }
    }
}

/// The names in `pub use` items of a source (`pub use a::{B, C};`, `pub use d::E;`).
fn reexported(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in source.match_indices("pub use ") {
        let item = &source[at + "pub use ".len()..];
        let item = &item[..item.find(';').unwrap()];
        let list = match item.find('{') {
            Some(open) => &item[open + 1..item.rfind('}').unwrap()],
            None => item,
        };
        names.extend(
            list.split(',')
                .map(|n| n.trim().rsplit("::").next().unwrap().to_string())
                .filter(|n| !n.is_empty()),
        );
    }
    names
}

#[test]
fn every_exported_name_is_in_the_public_api_listing() {
    let architecture = read("docs/architecture.md");
    let listing = &architecture[architecture
        .find("The public API is what `src/lib.rs` exports")
        .expect("docs/architecture.md lists the public API")..];
    let names = reexported(&read("src/lib.rs"));
    assert!(names.len() >= 40, "{names:?}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !listing.contains(&format!("`{n}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "exported but not listed in docs/architecture.md: {missing:?}"
    );
}

/// Every `.rs` file under `dir`, read.
fn sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The listing's plain names (`` `Name` ``, not paths or calls) are each defined `pub` in `src/`
/// (or re-exported): a name made private or removed must leave the listing too.
#[test]
fn every_listed_name_is_public() {
    let architecture = read("docs/architecture.md");
    let start = architecture
        .find("The public API is what `src/lib.rs` exports")
        .expect("docs/architecture.md lists the public API");
    let listing = &architecture[start..];
    let listing = &listing[..listing
        .find("`cargo doc` shows nothing else")
        .expect("the listing ends")];
    let mut src = String::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut src);
    let exported = reexported(&src);
    let names: Vec<&str> = listing
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    assert!(names.len() >= 60, "{names:?}");
    let kinds = ["fn", "struct", "enum", "const", "trait", "type", "mod", "static"];
    let private: Vec<&&str> = names
        .iter()
        .filter(|n| {
            !exported.iter().any(|e| e == *n)
                && !kinds.iter().any(|k| {
                    src.contains(&format!("pub {k} {n}("))
                        || src.contains(&format!("pub {k} {n} "))
                        || src.contains(&format!("pub {k} {n}:"))
                        || src.contains(&format!("pub {k} {n};"))
                        || src.contains(&format!("pub {k} {n}<"))
                })
        })
        .collect();
    assert!(
        private.is_empty(),
        "listed in docs/architecture.md but not public: {private:?}"
    );
}

#[test]
fn the_export_reader_sees_grouped_and_single_items() {
    let names =
        reexported("pub use a::{B, c::D};\npub use e::F;\n    pub use crate::g::{\n        H,\n    };");
    assert_eq!(names, ["B", "D", "F", "H"]);
}
