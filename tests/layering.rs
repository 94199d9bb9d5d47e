//! STYLE §2.1: only `tui/` may know about the terminal. Everything below it stays headless.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn headless_layers_do_not_import_the_terminal() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for layer in
        ["domain", "store", "grade", "llm", "runner", "metrics", "dataset", "protocol", "export"]
    {
        let mut files = Vec::new();
        rust_files(&root.join(layer), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for banned in ["ratatui", "crossterm", "syntect", "crate::tui", "crate::cli"] {
                assert!(!text.contains(banned), "{} mentions {banned}", file.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "the layers exist ({checked} files checked)");
}
