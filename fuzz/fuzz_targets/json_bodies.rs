//! Every JSON request body the API accepts: the input picks the body type
//! and whether a Manager or a Unit Manager sends it (both `Arbitrary`
//! enums), the rest is the body. It is parsed with the handler's type and
//! put through the handler's own translation and domain command, on an
//! in-memory state; any input must end in a value or a problem, never a
//! panic (R13).
#![no_main]

use bailiwick::http::fuzzing::{Body, Sender, json_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Body, Sender, &[u8])| {
    let (body, sender, bytes) = input;
    json_body(body, sender, bytes);
});
