use std::path::Path;

use crate::fuzz_body;

/// The inputs the fuzzer found interesting (and every sample) keep passing the harness.
#[test]
fn the_kept_fuzz_corpus_passes_the_harness() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/ingest_classify_render");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        fuzz_body::check(&std::fs::read(&path).unwrap());
        count += 1;
    }
    assert!(count > 0, "no corpus in {}", dir.display());
}
