//! Every JSON request body the API accepts: the first byte picks the body
//! type (and whether a Manager or a Unit Manager sends it), the rest is the
//! body. It is parsed with the handler's type and then checked, translated
//! and run as a domain command the way its handler does, on an in-memory
//! state; any input must end in a value or a problem, never a panic (R13).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((&selector, body)) = data.split_first() {
        bailiwick::http::fuzzing::json_body(selector, body);
    }
});
