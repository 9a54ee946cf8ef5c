//! The activity segment decoder must refuse any bytes cleanly: a damaged or
//! hostile segment file is reported, never a panic or an unbounded
//! allocation. Half the inputs are raw bytes; the other half are valid
//! segments built from structured input and then damaged, so the fuzzer
//! spends its time past the header and record checksums.
#![no_main]

use arbitrary::Arbitrary;
use bailiwick::audit::format::{
    self, Item, Payload, Records, SegmentHeader, decode_all, decode_payload,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Entry {
    actor: Option<String>,
    login: String,
    unit: Option<String>,
    action: String,
    details: String,
    time: i64,
}

#[derive(Arbitrary, Debug)]
enum Input {
    Raw(Vec<u8>),
    Built {
        first_seq: u32,
        entries: Vec<Entry>,
        /// (position, xor) pairs applied after building.
        flips: Vec<(u16, u8)>,
        cut: Option<u16>,
    },
}

fuzz_target!(|input: Input| {
    match input {
        Input::Raw(bytes) => {
            let _ = decode_all(&bytes);
            // A body without a header, as the query path reads blocks.
            for item in Records::new(&bytes, 0, 0) {
                if let Item::Record(r) = item {
                    let _ = decode_payload(r.payload);
                }
            }
        }
        Input::Built {
            first_seq,
            entries,
            flips,
            cut,
        } => {
            let first = u64::from(first_seq).max(1);
            let mut file = SegmentHeader {
                first_seq: first,
                prev_hash: [0; 32],
            }
            .encode()
            .to_vec();
            let mut prev = [0u8; 32];
            let n = entries.len();
            for (i, e) in entries.into_iter().enumerate() {
                let payload = Payload {
                    actor: e.actor,
                    actor_login: e.login,
                    business_unit: e.unit,
                    ip: None,
                    action: e.action,
                    target: String::new(),
                    details: e.details,
                };
                let bytes = format::encode_payload(&payload);
                // What is written decodes back to what was meant (after the caps).
                assert!(decode_payload(&bytes).is_ok());
                let rec = format::encode_record(first + i as u64, e.time, &prev, &bytes);
                prev = format::hash_record(&rec);
                file.extend(rec);
            }
            if flips.is_empty() && cut.is_none() {
                assert_eq!(decode_all(&file), Ok(n));
            }
            let len = file.len();
            for (pos, x) in flips {
                file[usize::from(pos) % len] ^= x;
            }
            if let Some(c) = cut {
                file.truncate(usize::from(c) % (len + 1));
            }
            let _ = decode_all(&file);
        }
    }
});
