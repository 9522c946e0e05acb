//! The docs match the code (no GPU needed): the README is a front page that links every page of
//! `docs/`, every page with Rust code is compiled as doc tests, and every name the crate's root
//! exports (and `gpu::`) is in the public API listing of docs/architecture.md, so the API cannot
//! grow or be renamed without the listing.

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

#[test]
fn the_export_reader_sees_grouped_and_single_items() {
    let names =
        reexported("pub use a::{B, c::D};\npub use e::F;\n    pub use crate::g::{\n        H,\n    };");
    assert_eq!(names, ["B", "D", "F", "H"]);
}
