//! Stored-record decoders must refuse any bytes cleanly: a damaged database
//! is reported, never a panic or an unbounded allocation.
#![no_main]

use bailiwick::domain::notice::Notice;
use bailiwick::domain::{ActivationLink, AssetGroup, Credentials, OwnedObject, Subscription, User};
use bailiwick::store::codec::{decode, encode};
use bailiwick::store::mail::FailedMail;
use bailiwick::store::records::ActivityRecord;
use libfuzzer_sys::fuzz_target;

fn round_trip<T: bailiwick::store::codec::Record + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = decode::<T>(data) {
        // Whatever decodes must encode back to something that decodes equal.
        let again: T = decode(&encode(&value)).expect("re-encoded record decodes");
        assert_eq!(again, value);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 9 {
        0 => round_trip::<User>(rest),
        1 => round_trip::<Subscription>(rest),
        2 => round_trip::<Credentials>(rest),
        3 => round_trip::<ActivationLink>(rest),
        4 => round_trip::<AssetGroup>(rest),
        5 => round_trip::<OwnedObject>(rest),
        // Notices and failed mail upgrade from older versions.
        6 => round_trip::<Notice>(rest),
        7 => round_trip::<FailedMail>(rest),
        _ => round_trip::<ActivityRecord>(rest),
    }
});
