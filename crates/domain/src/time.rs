//! Time as the domain sees it: a number of microseconds since the Unix epoch,
//! given to commands by the caller so that rules never read a clock.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A moment, in microseconds since the Unix epoch (UTC): the caller says
/// when a command happens, so rules never read a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The moment `us` microseconds after the epoch (before it when negative).
    pub const fn from_unix_micros(us: i64) -> Timestamp {
        Timestamp(us)
    }

    /// Microseconds since the epoch, as stored.
    pub fn unix_micros(self) -> i64 {
        self.0
    }

    /// `d` later, stopping at the largest moment rather than wrapping, so a
    /// huge lifetime reads as "never ends".
    pub fn saturating_add(self, d: std::time::Duration) -> Timestamp {
        let us = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(us))
    }

    /// RFC 3339 in UTC with second precision, e.g. `2026-11-25T04:01:00Z`.
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(1_000_000);
        match ::time::OffsetDateTime::from_unix_timestamp(secs) {
            Ok(t) => t
                .format(&::time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| secs.to_string()),
            Err(_) => secs.to_string(),
        }
    }

    /// Parses RFC 3339 with any offset, to the microsecond; `None` if it is
    /// not a valid date or is out of range.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let t = ::time::OffsetDateTime::parse(s, &::time::format_description::well_known::Rfc3339)
            .ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1000)
            .ok()
            .map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

// Stored as a number; shown to people (JSON) as RFC 3339.
impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Timestamp::parse_rfc3339(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not an RFC 3339 time")))
        } else {
            i64::deserialize(d).map(Timestamp)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_at_second_precision() {
        let t = Timestamp::from_unix_micros(1_764_043_260_000_000);
        assert_eq!(t.to_rfc3339(), "2025-11-25T04:01:00Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
    }
}
