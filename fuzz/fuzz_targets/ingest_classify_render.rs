//! Any bytes through ingestion (every input shape, both read modes), classification and
//! rendering. Run: `cargo +nightly fuzz run ingest_classify_render` (corpus seeded from events/).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/fuzz_body.rs"]
mod fuzz_body;

fuzz_target!(|data: &[u8]| fuzz_body::check(data));
