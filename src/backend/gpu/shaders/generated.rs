//! The generated lines of a kernel: a WGSL line `// GENERATED: <what>` is replaced, when the
//! kernel's source is built, by code written for the kernel's constants. The register-resident
//! sequence kernel unrolls its products over every value of h (up to 256, for each of the units
//! an invocation owns) in each of its sizes; writing that by hand, or storing it, would be
//! thousands of lines that differ only in their numbers. The templates stay readable and their mutants
//! (`tests/mutants/`) apply to them before the expansion.

use std::borrow::Cow;
use std::fmt::Write;

const MARKER: &str = "// GENERATED: ";

/// `source` with each `// GENERATED: <what>` line replaced by its code for `consts` (the
/// kernel's WGSL constants, which `consts` declares); unchanged without such lines.
pub(crate) fn expand<'a>(source: Cow<'a, str>, consts: &[(&str, u32)]) -> Cow<'a, str> {
    if !source.contains(MARKER) {
        return source;
    }
    let mut out = String::with_capacity(source.len() * 4);
    for line in source.lines() {
        match line.trim_start().strip_prefix(MARKER) {
            Some(what) => {
                let indent = &line[..line.len() - line.trim_start().len()];
                writeln!(out, "{indent}// {what}:").unwrap();
                generate(&mut out, indent, what.trim(), consts);
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Cow::Owned(out)
}

fn constant(consts: &[(&str, u32)], name: &str, what: &str) -> u32 {
    consts
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("`// GENERATED: {what}` needs the kernel's constant {name}"))
        .1
}

/// The lines of `what`, each after `indent`.
fn generate(out: &mut String, indent: &str, what: &str, consts: &[(&str, u32)]) {
    let get = |name| constant(consts, name, what);
    let mut line = |text: String| {
        out.push_str(indent);
        out.push_str(&text);
        out.push('\n');
    };
    match what {
        // The kernel's constants.
        "consts" => {
            for (name, value) in consts {
                line(format!("const {name}: u32 = {value}u;"));
            }
        }
        // z[u] += R_u·h with h read from workgroup memory, one vec4 per four values.
        "resident-workgroup" => {
            let (res, units) = (get("SEQ_RES"), get("SEQ_UNITS"));
            for block in 0..res / 4 {
                let k0 = block * 4;
                line(format!("if ({k0}u < SEQ_P) {{"));
                line(format!("    let h{block} = h_wg[half + {block}u];"));
                for (i, lane) in ["x", "y", "z", "w"].iter().enumerate() {
                    let k = k0 + i as u32;
                    let products = products(units, res, k, &format!("vec4<f32>(h{block}.{lane})"));
                    line(format!("    if ({k}u < SEQ_P) {{ {products}}}"));
                }
                line("}".into());
            }
        }
        // z[u] += R_u·h with each block of eight vec4s of h read once per subgroup, vec4 i by
        // invocation i, and broadcast from there.
        "resident-subgroup" => {
            let (res, units) = (get("SEQ_RES"), get("SEQ_UNITS"));
            for block in 0..res / 32 {
                let k0 = block * 32;
                line(format!("if ({k0}u < SEQ_P) {{"));
                line(format!(
                    "    let h{block} = h_wg[half + {}u + lane % 8u];",
                    block * 8
                ));
                for i in 0..8u32 {
                    for (c, lane) in ["x", "y", "z", "w"].iter().enumerate() {
                        let k = k0 + 4 * i + c as u32;
                        let h = format!("vec4<f32>(subgroupBroadcast(h{block}, {i}u).{lane})");
                        line(format!(
                            "    if ({k}u < SEQ_P) {{ let hk = {h}; {}}}",
                            products(units, res, k, "hk")
                        ));
                    }
                }
                line("}".into());
            }
        }
        _ => panic!("no generator for `// GENERATED: {what}`"),
    }
}

/// `z[u] = fma(h, r[…], z[u]); ` for every unit of the invocation.
fn products(units: u32, res: u32, k: u32, h: &str) -> String {
    (0..units)
        .map(|u| format!("z[{u}] = fma({h}, r[{}], z[{u}]); ", u * res + k))
        .collect()
}
