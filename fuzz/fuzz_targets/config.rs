//! The config loader must answer any text with a config or an error that
//! names the problem, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = bailiwick::config::Config::from_toml_str(text) {
            assert!(!e.to_string().is_empty());
        }
    }
});
