//! The house: each top-level module of the library (a room) stands on a floor that
//! ARCHITECTURE.md's module table gives, and imports only from floors below its own. No
//! arrow points up, so there is no cycle between rooms. The table also has to match the
//! folders: every room has its row, and a folder's row names each of its files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The rooms: `pub mod NAME;` in src/lib.rs.
fn rooms() -> BTreeSet<String> {
    let lib = fs::read_to_string(manifest().join("src/lib.rs")).unwrap();
    lib.lines().filter_map(|l| l.strip_prefix("pub mod")?.trim().strip_suffix(';').map(str::to_owned)).collect()
}

/// ARCHITECTURE.md's module table: room → (floor, what its row says).
fn table() -> BTreeMap<String, (u32, String)> {
    let text = fs::read_to_string(manifest().join("ARCHITECTURE.md")).unwrap();
    let section = text.split("\n## Modules").nth(1).expect("ARCHITECTURE.md has a `## Modules` section");
    let mut rows = BTreeMap::new();
    for line in section.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let Ok(floor) = cells[0].parse::<u32>() else { continue };
        let room = cells[1].trim_matches('`').trim_end_matches('/').trim_end_matches(".rs").to_owned();
        assert!(rows.insert(room.clone(), (floor, cells[1..].join(" "))).is_none(), "{room}: two rows");
    }
    assert!(rows.len() > 10, "the module table was not found: {rows:?}");
    rows
}

/// The files of a room: `src/NAME.rs`, or everything under `src/NAME/`.
fn files(room: &str) -> Vec<PathBuf> {
    let single = manifest().join(format!("src/{room}.rs"));
    if single.exists() {
        return vec![single];
    }
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&manifest().join(format!("src/{room}")), &mut out);
    out.sort();
    out
}

/// The rooms a file's code names through `crate::` (in paths and `use` trees), its tests
/// and comments left out.
fn imports(code: &str) -> BTreeSet<String> {
    let code: String = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let code = without_tests(&code);
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(tree) = rest.strip_prefix('{') {
            // The first segment of each path at the top of the braces.
            let (mut depth, mut start) = (0, true);
            let mut name = String::new();
            for c in tree.chars() {
                if depth == 0 && start && (c.is_alphanumeric() || c == '_') {
                    name.push(c);
                    continue;
                }
                if !name.is_empty() {
                    out.insert(std::mem::take(&mut name));
                    start = false;
                }
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    _ => {}
                }
            }
            if !name.is_empty() {
                out.insert(name);
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.insert(name);
        }
    }
    out
}

/// `code` without its `#[cfg(test)]` items (each up to the end of its braces): what the
/// tests import is not part of the house; what follows them is.
fn without_tests(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let Some(open) = item.find(['{', ';']) else { return out };
        if item.as_bytes()[open] == b';' {
            rest = &item[open + 1..];
            continue;
        }
        let mut depth = 0;
        let mut end = item.len();
        for (i, c) in item[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn every_room_has_its_row_and_each_row_a_room() {
    let (rooms, table) = (rooms(), table());
    let rows: BTreeSet<String> = table.keys().cloned().collect();
    assert_eq!(rooms, rows, "src/lib.rs's modules and ARCHITECTURE.md's module table differ");
}

#[test]
fn a_folders_row_names_each_of_its_files() {
    for (room, (_, says)) in table() {
        for f in files(&room) {
            let rel = f.strip_prefix(manifest().join("src").join(&room)).map(Path::to_path_buf).unwrap_or_default();
            let rel = rel.display().to_string();
            if rel.is_empty() || rel == "mod.rs" {
                continue;
            }
            assert!(says.contains(&rel), "ARCHITECTURE.md's row for `{room}/` does not name {rel}");
        }
    }
}

#[test]
fn no_import_points_up_a_floor() {
    let table = table();
    let mut up = Vec::new();
    for (room, (floor, _)) in &table {
        for f in files(room) {
            for to in imports(&fs::read_to_string(&f).unwrap()) {
                if &to == room || to.is_empty() {
                    continue;
                }
                let Some((to_floor, _)) = table.get(&to) else {
                    panic!("{}: `crate::{to}` is not a room of the table", f.display());
                };
                if to_floor >= floor {
                    up.push(format!(
                        "{} (floor {floor}) imports `crate::{to}` (floor {to_floor})",
                        f.strip_prefix(manifest()).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(up.is_empty(), "imports that do not point down:\n{}", up.join("\n"));
}

#[test]
fn the_import_scan_sees_paths_and_use_trees() {
    let code = "use crate::a::B;\nuse crate::{b, c::{D, e}, f};\nfn g() { crate::h::i(); }\n// crate::no\n#[cfg(test)]\nmod t { fn x() { crate::no::y(); } }\nfn after() { crate::j::k(); }";
    let got: Vec<String> = imports(code).into_iter().collect();
    assert_eq!(got, ["a", "b", "c", "f", "h", "j"]);
}
