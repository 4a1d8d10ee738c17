//! The order of the crate's layers, and the test that keeps every import pointing down it.
//! ARCHITECTURE.md says what each layer owns.

/// The top-level modules, lowest first. A module's code may name (`crate::…`) only modules
/// listed before it, or itself. `cli/` and `main.rs` sit above them all; test code is not held
/// to the order.
///
/// - The foundation: words, catalogues, errors, files, progress and column access, for every
///   stage, knowing nothing of the pipeline.
/// - The stages, in the order a record goes through them; `compare` comes before `check`
///   because exact duplicates ask compare's name rule whether two records sharing a number are
///   one person. `labels` holds what an analyst said of pairs, for the dedupe to obey; `outcome`
///   what a dedupe found, as data, for `report` to write.
/// - The jobs built on the stages: the photo audit, reconciling police verdicts, the chained
///   pipeline (`check`, `dedupe`, `run`, `link`, Spark's worker), and the generator and
///   evaluator of synthetic provinces.
pub const LAYERS: [&str; 25] = [
    // foundation
    "lang",
    "problems",
    "error",
    "rng",
    "gb11643",
    "datasets",
    "schema",
    "progress",
    "files",
    "columns",
    // stages
    "ingest",
    "normalize",
    "compare",
    "check",
    "block",
    "score",
    "cluster",
    "labels",
    "outcome",
    "report",
    // jobs
    "photos",
    "reconcile",
    "pipeline",
    "generate",
    "eval",
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::LAYERS;

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The modules a file's code names as `crate::NAME`, outside comments and its test module.
    fn named_modules(code: &str) -> BTreeSet<String> {
        let code = code.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        let mut named = BTreeSet::new();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                // `crate::say!` is lang's macro, exported at the crate's root.
                named.insert(if name == "say" { "lang".to_owned() } else { name });
            }
        }
        named
    }

    /// Every `crate::` import of every file under `src/`, as (file, its module, module named).
    fn imports() -> Vec<(String, String, String)> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        files.sort();
        let mut found = Vec::new();
        for file in files {
            let relative = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            let top = relative.split(['/', '.']).next().unwrap().to_owned();
            if matches!(top.as_str(), "cli" | "main" | "lib" | "layers") {
                continue;
            }
            for named in named_modules(&std::fs::read_to_string(&file).unwrap()) {
                found.push((relative.clone(), top.clone(), named));
            }
        }
        found
    }

    #[test]
    fn every_import_points_down_the_layers() {
        let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
        let imports = imports();
        assert!(imports.len() > 100, "the test reads the crate's imports: {} found", imports.len());
        let mut wrong = Vec::new();
        for (file, module, named) in &imports {
            match (rank(module), rank(named)) {
                (None, _) => wrong.push(format!("{file}: module {module} is not in LAYERS")),
                (_, None) => wrong.push(format!("{file}: crate::{named} is not in LAYERS")),
                (Some(m), Some(n)) if n > m => wrong.push(format!("{file}: {module} imports {named}, a higher layer")),
                _ => {}
            }
        }
        assert!(wrong.is_empty(), "imports against the layers (src/layers.rs):\n{}", wrong.join("\n"));
    }

    #[test]
    fn every_module_has_its_layer() {
        let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
        let declared: BTreeSet<&str> =
            lib.lines().filter_map(|l| l.strip_prefix("pub mod ").and_then(|m| m.strip_suffix(';'))).collect();
        let listed: BTreeSet<&str> = LAYERS.iter().copied().collect();
        assert_eq!(declared, listed, "lib.rs's modules and LAYERS");
        assert_eq!(listed.len(), LAYERS.len(), "a module listed twice");
    }

    #[test]
    fn the_reader_sees_an_import_that_points_up() {
        let code =
            "use crate::report::inert;\n// crate::pipeline in a comment\nfn f() { crate::say!(\"a\", \"b\"); }\n\
                    #[cfg(test)]\nmod tests { use crate::eval; }\n";
        let named: Vec<String> = named_modules(code).into_iter().collect();
        assert_eq!(named, ["lang", "report"]);
    }
}
