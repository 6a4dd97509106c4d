//! The library names parameters by their library names (`Param`), never by command-line flags:
//! no string literal in the library's source (outside the binary's `src/cli/` and `src/main.rs`)
//! starts with `--`. Flags live in the binary, which maps `Param` to them.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The string literals of `src` (plain `"…"` literals; comments skipped).
fn string_literals(src: &str) -> Vec<String> {
    let bytes: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            '/' if bytes.get(i + 1) == Some(&'/') => {
                while i < bytes.len() && bytes[i] != '\n' {
                    i += 1;
                }
            }
            '/' if bytes.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == '*' && bytes[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            'r' if (i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_'))
                && matches!(bytes.get(i + 1), Some('#') | Some('"')) =>
            {
                // a raw string r"…" or r#"…"#
                let mut j = i + 1;
                let mut hashes = 0;
                while bytes.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if bytes.get(j) != Some(&'"') {
                    i += 1;
                    continue;
                }
                j += 1;
                let start = j;
                loop {
                    if j >= bytes.len() {
                        break;
                    }
                    if bytes[j] == '"' && (1..=hashes).all(|h| bytes.get(j + h) == Some(&'#')) {
                        break;
                    }
                    j += 1;
                }
                out.push(bytes[start..j.min(bytes.len())].iter().collect());
                i = j + 1 + hashes;
            }
            '\'' => {
                // a char literal ('"', '\'', 'x') or a lifetime ('a)
                if bytes.get(i + 1) == Some(&'\\') {
                    i += 4;
                } else if bytes.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                while i < bytes.len() && bytes[i] != '"' {
                    if bytes[i] == '\\' {
                        s.push(bytes[i]);
                        i += 1;
                    }
                    if i < bytes.len() {
                        s.push(bytes[i]);
                    }
                    i += 1;
                }
                i += 1;
                out.push(s);
            }
            _ => i += 1,
        }
    }
    out
}

#[test]
fn no_library_string_literal_starts_with_two_dashes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut offenders = Vec::new();
    let mut scanned = 0;
    for f in files {
        let rel = f.strip_prefix(&root).unwrap();
        if rel.starts_with("cli") || rel == Path::new("main.rs") {
            continue;
        }
        scanned += 1;
        let text = std::fs::read_to_string(&f).unwrap();
        for lit in string_literals(&text) {
            if lit.starts_with("--") {
                offenders.push(format!("{}: \"{lit}\"", rel.display()));
            }
        }
    }
    assert!(scanned > 40, "only {scanned} library files found");
    assert!(
        offenders.is_empty(),
        "flag spellings in the library:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_scanner_finds_literals_and_skips_comments() {
    let src =
        "// \"--no\"\nlet a = \"--lr\"; /* \"--x\" */ let c = '\"'; let b = \"ok \\\"--q\\\"\";";
    let lits = string_literals(src);
    assert_eq!(lits, vec!["--lr".to_string(), "ok \\\"--q\\\"".to_string()]);
}
