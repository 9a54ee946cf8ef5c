//! Record encoding: a two-byte little-endian version tag, then bincode (serde,
//! standard config). Every stored value goes through here, so the format can
//! change crate later without touching the rest.
//!
//! The one thing to know: a record type's `VERSION` is part of the file
//! format. Change a stored struct only by bumping it and teaching `upgrade`
//! to read the old bytes.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Hostile or damaged bytes must not make decoding allocate without bound:
/// a body may claim at most `AMPLIFICATION` times its own length in memory
/// (rounded up to the next of a few fixed limits), and never less than
/// `FLOOR`. A fixed limit alone refused records the store had written: the
/// asset list of a subscription with a million ranges decodes to 32 MB.
/// Varint `u128` pairs take 2 to 34 bytes for 32 in memory.
const AMPLIFICATION: usize = 32;
const FLOOR: usize = 16 << 20;

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
}

/// Decodes `body` with the allocation limit for its length.
fn decode_limited<T: DeserializeOwned>(
    body: &[u8],
) -> Result<(T, usize), bincode::error::DecodeError> {
    let want = body.len().saturating_mul(AMPLIFICATION);
    let c = bincode::config::standard();
    if want <= FLOOR {
        bincode::serde::decode_from_slice(body, c.with_limit::<FLOOR>())
    } else if want <= 256 << 20 {
        bincode::serde::decode_from_slice(body, c.with_limit::<{ 256 << 20 }>())
    } else if want <= 4 << 30 {
        bincode::serde::decode_from_slice(body, c.with_limit::<{ 4 << 30 }>())
    } else {
        bincode::serde::decode_from_slice(body, c.with_limit::<{ 64 << 30 }>())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record is {0} bytes, shorter than its version tag")]
    Truncated(usize),
    #[error("record version {found} is newer than this build reads ({supported})")]
    NewerVersion { found: u16, supported: u16 },
    #[error("record version {0} is not known")]
    UnknownVersion(u16),
    #[error("record body does not decode: {0}")]
    Body(String),
    #[error("record has {0} bytes after its end")]
    Trailing(usize),
}

/// A stored record type.
pub trait Record: Serialize + DeserializeOwned {
    /// The version written today.
    const VERSION: u16;

    /// Reads a body written at an older `version`. The default knows none.
    fn upgrade(version: u16, _body: &[u8]) -> Result<Self, DecodeError> {
        Err(DecodeError::UnknownVersion(version))
    }
}

pub fn encode<T: Record>(value: &T) -> Vec<u8> {
    let mut out = T::VERSION.to_le_bytes().to_vec();
    // Encoding plain structs into a Vec cannot fail; a failure is a bug in a
    // record type (e.g. a map with non-string keys is fine for bincode too).
    let body = bincode::serde::encode_to_vec(value, config()).expect("record encodes");
    out.extend_from_slice(&body);
    out
}

pub fn decode<T: Record>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (tag, body) = split(bytes)?;
    match tag {
        v if v == T::VERSION => decode_body(body),
        v if v > T::VERSION => Err(DecodeError::NewerVersion {
            found: v,
            supported: T::VERSION,
        }),
        v => T::upgrade(v, body),
    }
}

/// Decodes a body with no tag: for `upgrade` implementations reading old structs.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    let (value, used) = decode_limited(body).map_err(|e| DecodeError::Body(e.to_string()))?;
    if used != body.len() {
        return Err(DecodeError::Trailing(body.len() - used));
    }
    Ok(value)
}

fn split(bytes: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    if bytes.len() < 2 {
        return Err(DecodeError::Truncated(bytes.len()));
    }
    Ok((u16::from_le_bytes([bytes[0], bytes[1]]), &bytes[2..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct PointV1 {
        x: i32,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Point {
        x: i32,
        y: i32,
    }

    impl Record for PointV1 {
        const VERSION: u16 = 1;
    }

    impl Record for Point {
        const VERSION: u16 = 2;
        fn upgrade(version: u16, body: &[u8]) -> Result<Self, DecodeError> {
            match version {
                1 => decode_body::<PointV1>(body).map(|p| Point { x: p.x, y: 0 }),
                v => Err(DecodeError::UnknownVersion(v)),
            }
        }
    }

    #[test]
    fn round_trip_and_upgrade_from_older_version() {
        let p = Point { x: 3, y: 4 };
        assert_eq!(decode::<Point>(&encode(&p)).unwrap(), p);
        let old = encode(&PointV1 { x: 7 });
        assert_eq!(decode::<Point>(&old).unwrap(), Point { x: 7, y: 0 });
    }

    #[test]
    fn newer_truncated_and_trailing_are_refused() {
        let newer = encode(&Point { x: 1, y: 1 });
        assert_eq!(
            decode::<PointV1>(&newer).unwrap_err(),
            DecodeError::NewerVersion {
                found: 2,
                supported: 1
            }
        );
        assert_eq!(
            decode::<Point>(&[2]).unwrap_err(),
            DecodeError::Truncated(1)
        );
        let mut long = encode(&Point { x: 1, y: 1 });
        long.push(0);
        assert!(matches!(
            decode::<Point>(&long),
            Err(DecodeError::Trailing(1))
        ));
    }

    /// The asset list of the largest subscriptions (a million ranges) was
    /// written and then refused at the next start ("LimitExceeded"): the
    /// daemon would not open its own data directory.
    #[test]
    fn a_million_ranges_read_back() {
        use crate::domain::AssetSet;
        use crate::domain::ipset::IpSet;
        let base = 0xffff_0a00_0000u128;
        let ranges = (0..1_000_000u128).map(|i| (base + 32 * i, base + 32 * i + 7));
        let assets = AssetSet {
            ips: IpSet::from_ranges(ranges.collect()),
            ..AssetSet::default()
        };
        let bytes = encode(&assets);
        let back: AssetSet = decode(&bytes).unwrap();
        assert_eq!(back.ips.ranges().len(), 1_000_000);
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        // Version 1, then a string length of u64::MAX in varint form.
        let bytes = [1u8, 0, 253, 255, 255, 255, 255, 255, 255, 255, 255];
        #[derive(Debug, Serialize, Deserialize)]
        struct S(String);
        impl Record for S {
            const VERSION: u16 = 1;
        }
        assert!(matches!(decode::<S>(&bytes), Err(DecodeError::Body(_))));
    }
}
