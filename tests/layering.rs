//! STYLE §2.1: each module imports only the layers below it, and only `tui/` (and the `cli` that
//! starts it) knows about the terminal. The table is the architecture; a new import that breaks
//! it fails here with the file that made it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Module → the crate modules it may name (`crate::X`).
const ALLOWED: &[(&str, &[&str])] = &[
    ("domain", &[]),
    // How numbers are written, for every front end and the report: pure.
    ("fmt", &[]),
    // The environment a command sees (a served client's, or the process's).
    ("env", &[]),
    ("config", &["domain", "env"]),
    ("store", &["domain"]),
    ("grade", &["domain"]),
    ("protocol", &["domain", "grade"]),
    ("dataset", &["domain", "grade"]),
    ("llm", &["domain", "env", "grade", "protocol"]),
    // Pure: no store, no runner.
    ("metrics", &["domain", "protocol"]),
    ("runner", &["domain", "grade", "llm", "protocol", "store", "dataset"]),
    // The service layer between the store and the pure metrics.
    ("analysis", &["domain", "metrics", "protocol", "store"]),
    // One run planner for the CLI and the workbench.
    ("plan", &["config", "dataset", "domain", "env", "grade", "protocol", "runner", "store"]),
    ("export", &["dataset", "domain", "grade", "metrics", "protocol", "runner", "store"]),
    ("report", &["analysis", "domain", "fmt", "metrics", "runner", "store"]),
    ("browse", &["analysis", "domain", "metrics", "protocol", "runner", "store"]),
];

const TERMINAL: &[&str] = &["ratatui", "crossterm", "syntect"];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    for entry in std::fs::read_dir(path).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate modules a file names: `crate::X` for every X.
fn named_modules(text: &str) -> BTreeSet<String> {
    text.match_indices("crate::")
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for (module, allowed) in ALLOWED {
        let dir = src.join(module);
        let root = if dir.is_dir() { dir } else { src.join(format!("{module}.rs")) };
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        assert!(!files.is_empty(), "module {module} not found");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for named in named_modules(&text) {
                assert!(
                    named == *module || allowed.contains(&named.as_str()),
                    "{} names crate::{named}; {module} may name only {allowed:?}",
                    file.display()
                );
            }
            for banned in TERMINAL {
                assert!(!text.contains(banned), "{} mentions {banned}", file.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 60, "the layers exist ({checked} files checked)");
}

#[test]
fn nothing_below_the_ui_names_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().to_string();
        // The server is a front end too: it runs the workbench's effects and the commands.
        let front = ["tui", "cli", "server"].iter().any(|f| rel.starts_with(f));
        if front || rel == "main.rs" || rel == "lib.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for ui in ["crate::tui", "crate::cli"] {
            assert!(!text.contains(ui), "{rel} names {ui}");
        }
    }
}
