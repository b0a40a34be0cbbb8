//! What the examples say of themselves: a user reads an example's header
//! and needs nothing else, so it names no path that is not packaged, and
//! no paragraph stops short.

use std::path::PathBuf;

/// The `//!` lines at the head of `examples/<name>.rs`, without the marker.
fn header(name: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .map_while(|line| line.strip_prefix("//!"))
        .map(|line| line.trim().to_owned())
        .collect()
}

/// The lines of code of `examples/<name>.rs`, counted as
/// `grep -v '^\s*//' | grep -v '^\s*$' | wc -l` counts them.
fn lines_of_code(name: &str) -> usize {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .map(str::trim_start)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .count()
}

#[test]
fn every_example_describes_itself_in_whole_sentences_and_packaged_paths() {
    let examples = std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    assert!(examples.len() >= 5, "{examples:?}");
    for name in &examples {
        let header = header(name);
        assert!(header.len() >= 3, "{name}: no header");
        let text = header.join("\n");
        // `tests/` is not packaged: an example explains itself.
        assert!(
            !text.contains("tests/"),
            "{name} points into tests/:\n{text}"
        );
        // A line that announces something (`:`) is followed by it.
        for (i, line) in header.iter().enumerate() {
            if line.ends_with(':') {
                let next = header[i + 1..].iter().find(|l| !l.is_empty());
                assert!(
                    next.is_some_and(|l| l.starts_with(['-', '|', '`'])
                        || l.chars().next().is_some_and(|c| c.is_ascii_digit())),
                    "{name}: {line:?} announces what does not follow"
                );
            }
        }
    }
}

#[test]
fn the_receiver_example_lists_every_line_it_prints() {
    let text = header("axum_receiver").join("\n");
    for line in [
        "`processed <id>`",
        "`duplicate <id>`",
        "`failed <id>`",
        "`in progress <id>`",
        "`unavailable <id>`",
        "`parked <id>`",
        "`drift <vendor>",
    ] {
        assert!(text.contains(line), "{line} is not in:\n{text}");
    }
    for variable in [
        "REDIS_URL",
        "DATABASE_URL",
        "WEBHOOK_LEASE_MS",
        "WORK_DELAY_MS",
        "DEAD_LETTER_FILE",
    ] {
        assert!(text.contains(variable), "{variable} is not in:\n{text}");
    }
}

#[test]
fn the_postgres_example_stays_within_sixty_lines_of_code() {
    let lines = lines_of_code("axum_postgres");
    assert!(lines <= 60, "{lines} lines of code");
    assert!(lines > 30, "{lines}: the count reads the file");
    let text = header("axum_postgres").join("\n");
    for needed in [
        "DATABASE_URL",
        "run_in_transaction",
        "SMARTERWX_WEBHOOK_SECRET",
    ] {
        assert!(text.contains(needed), "{needed} is not in:\n{text}");
    }
}
