//! The segment file format (docs/format.md): encoding, and a decoder that never
//! panics and never trusts a length it has not checked.
//!
//! The one thing to know before changing it: these bytes outlive every
//! build. A change means a new `FORMAT_VERSION` (segment header) or
//! `PAYLOAD_VERSION` (entry body), a reader for the old one, and docs/format.md.
//!
//! ```
//! use bailiwick::audit::format::{self, Item, Payload, Records, SegmentHeader};
//! let header = SegmentHeader { first_seq: 1, prev_hash: [0; 32] };
//! let mut file = header.encode().to_vec();
//! let payload = format::encode_payload(&Payload { action: "login".into(), ..Payload::default() });
//! file.extend(format::encode_record(1, 0, &[0; 32], &payload));
//! let body = &file[format::HEADER_LEN..];
//! let first = Records::new(body, format::HEADER_LEN as u64, 0).next();
//! assert!(matches!(first, Some(Item::Record(r)) if r.seq == 1));
//! ```

use serde::{Deserialize, Serialize};

use super::crc32c;

/// First eight bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"BWACTLOG";
/// Version of the segment and record layout.
pub const FORMAT_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 64;
pub const RECORD_HEADER_LEN: usize = 56;
/// Largest payload written or accepted; a larger length is damage.
pub const MAX_PAYLOAD: usize = 1 << 20;
/// Version tag in front of every payload.
pub const PAYLOAD_VERSION: u16 = 1;
/// Longest `details` kept; longer text is cut (with a marker) so that an
/// entry always fits in a record.
pub const MAX_DETAILS: usize = 64 << 10;
/// Record hashes are SHA-256.
pub type Hash = [u8; 32];

/// Name of the segment whose first record is `first_seq`.
pub fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.seg")
}

/// The first sequence number a segment file name announces, if it is one.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub first_seq: u64,
    /// Hash of the record before `first_seq` (zeros when there is none): it
    /// anchors the chain when older segments have been deleted.
    pub prev_hash: Hash,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the file is {0} bytes, shorter than a segment header")]
    Short(usize),
    #[error("not an activity segment (bad magic)")]
    Magic,
    #[error("segment format version {0} is not known to this build (it reads {FORMAT_VERSION})")]
    Version(u16),
    #[error("segment header length {0} is not {HEADER_LEN}")]
    Length(u16),
    #[error("segment header checksum mismatch")]
    Checksum,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&MAGIC);
        h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        h[10..12].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        h[12..20].copy_from_slice(&self.first_seq.to_le_bytes());
        h[20..52].copy_from_slice(&self.prev_hash);
        // 52..60 reserved, zero.
        let crc = crc32c::checksum(&h[..60]);
        h[60..64].copy_from_slice(&crc.to_le_bytes());
        h
    }

    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, HeaderError> {
        let h = bytes
            .get(..HEADER_LEN)
            .ok_or(HeaderError::Short(bytes.len()))?;
        if h[0..8] != MAGIC {
            return Err(HeaderError::Magic);
        }
        let version = u16::from_le_bytes([h[8], h[9]]);
        if version != FORMAT_VERSION {
            return Err(HeaderError::Version(version));
        }
        let len = u16::from_le_bytes([h[10], h[11]]);
        if usize::from(len) != HEADER_LEN {
            return Err(HeaderError::Length(len));
        }
        if crc32c::checksum(&h[..60]) != le_u32(&h[60..64]) {
            return Err(HeaderError::Checksum);
        }
        Ok(SegmentHeader {
            first_seq: le_u64(&h[12..20]),
            prev_hash: hash_at(&h[20..52]),
        })
    }
}

/// What an entry says besides its sequence number and time (R11.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Acting user's id; `None` for the operator and the system.
    pub actor: Option<String>,
    pub actor_login: String,
    /// The actor's unit when acting (R11.2 scopes Unit Managers by it).
    pub business_unit: Option<String>,
    /// Source address in text form.
    pub ip: Option<String>,
    pub action: String,
    pub target: String,
    pub details: String,
}

impl Payload {
    pub fn from_activity(a: &crate::domain::Activity) -> Payload {
        Payload {
            actor: a.actor.user.clone(),
            actor_login: a.actor.login.clone(),
            business_unit: a.actor.business_unit.clone(),
            ip: a.actor.ip.map(|ip| ip.to_string()),
            action: a.action.clone(),
            target: a.target.clone(),
            details: a.details.clone(),
        }
    }
}

/// Encodes a payload: version tag, then bincode. Over-long fields are cut so
/// the result always fits in [`MAX_PAYLOAD`]: an entry is never dropped.
pub fn encode_payload(p: &Payload) -> Vec<u8> {
    let mut p = p.clone();
    // Commands write short fields; these caps only stop a runaway caller.
    cut(&mut p.details, MAX_DETAILS);
    cut(&mut p.target, 4096);
    cut(&mut p.action, 256);
    cut(&mut p.actor_login, 1024);
    for f in [&mut p.actor, &mut p.business_unit, &mut p.ip]
        .into_iter()
        .flatten()
    {
        cut(f, 1024);
    }
    // The byte layout is docs/format.md's, written here by hand: the
    // specification, not a serialisation library, defines these bytes.
    let mut out = PAYLOAD_VERSION.to_le_bytes().to_vec();
    put_option(&mut out, p.actor.as_deref());
    put_str(&mut out, &p.actor_login);
    put_option(&mut out, p.business_unit.as_deref());
    put_option(&mut out, p.ip.as_deref());
    put_str(&mut out, &p.action);
    put_str(&mut out, &p.target);
    put_str(&mut out, &p.details);
    out
}

/// An unsigned integer: one byte below 251, else a marker and the value
/// little-endian (251: 2 bytes, 252: 4, 253: 8).
fn put_len(out: &mut Vec<u8>, n: usize) {
    let n = n as u64;
    if n < 251 {
        out.push(n as u8);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(251);
        out.extend_from_slice(&n.to_le_bytes());
    } else if let Ok(n) = u32::try_from(n) {
        out.push(252);
        out.extend_from_slice(&n.to_le_bytes());
    } else {
        out.push(253);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_option(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

/// Reads the payload body; every length is checked against what is left.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PayloadError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                PayloadError::Body(format!("ends inside a field at byte {}", self.pos + 2))
            })?;
        let part = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(part)
    }

    fn len(&mut self) -> Result<usize, PayloadError> {
        let n = match self.take(1)?[0] {
            n @ 0..=250 => u64::from(n),
            251 => u64::from(u16::from_le_bytes(
                self.take(2)?.try_into().unwrap_or_default(),
            )),
            252 => u64::from(u32::from_le_bytes(
                self.take(4)?.try_into().unwrap_or_default(),
            )),
            253 => u64::from_le_bytes(self.take(8)?.try_into().unwrap_or_default()),
            m => {
                return Err(PayloadError::Body(format!(
                    "length marker {m} at byte {} is not 251, 252 or 253",
                    self.pos + 1
                )));
            }
        };
        usize::try_from(n).map_err(|_| PayloadError::Body(format!("length {n} too large")))
    }

    fn string(&mut self) -> Result<String, PayloadError> {
        let n = self.len()?;
        let at = self.pos + 2;
        std::str::from_utf8(self.take(n)?)
            .map(str::to_owned)
            .map_err(|_| PayloadError::Body(format!("the string at byte {at} is not UTF-8")))
    }

    fn option(&mut self) -> Result<Option<String>, PayloadError> {
        match self.take(1)?[0] {
            0 => Ok(None),
            1 => self.string().map(Some),
            t => Err(PayloadError::Body(format!(
                "option tag {t} at byte {} is not 0 or 1",
                self.pos + 1
            ))),
        }
    }
}

fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("…[cut]");
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload is {0} bytes, shorter than its version tag")]
    Short(usize),
    #[error("payload version {0} is not known to this build (it reads {PAYLOAD_VERSION})")]
    Version(u16),
    #[error("payload does not decode: {0}")]
    Body(String),
    #[error("payload has {0} bytes after its end")]
    Trailing(usize),
}

pub fn decode_payload(bytes: &[u8]) -> Result<Payload, PayloadError> {
    if bytes.len() < 2 {
        return Err(PayloadError::Short(bytes.len()));
    }
    let version = u16::from_le_bytes([bytes[0], bytes[1]]);
    if version != PAYLOAD_VERSION {
        return Err(PayloadError::Version(version));
    }
    let body = &bytes[2..];
    let mut r = Reader {
        bytes: body,
        pos: 0,
    };
    let p = Payload {
        actor: r.option()?,
        actor_login: r.string()?,
        business_unit: r.option()?,
        ip: r.option()?,
        action: r.string()?,
        target: r.string()?,
        details: r.string()?,
    };
    if r.pos != body.len() {
        return Err(PayloadError::Trailing(body.len() - r.pos));
    }
    Ok(p)
}

/// One whole record: header, then `payload` (at most [`MAX_PAYLOAD`]).
pub fn encode_record(seq: u64, time_us: i64, prev_hash: &Hash, payload: &[u8]) -> Vec<u8> {
    let len = payload.len().min(MAX_PAYLOAD);
    let mut r = Vec::with_capacity(RECORD_HEADER_LEN + len);
    r.extend_from_slice(&(len as u32).to_le_bytes());
    r.extend_from_slice(&[0; 4]);
    r.extend_from_slice(&seq.to_le_bytes());
    r.extend_from_slice(&time_us.to_le_bytes());
    r.extend_from_slice(prev_hash);
    r.extend_from_slice(&payload[..len]);
    let crc = record_crc(&r);
    r[4..8].copy_from_slice(&crc.to_le_bytes());
    r
}

/// CRC-32C of a whole record but its own checksum field.
fn record_crc(record: &[u8]) -> u32 {
    crc32c::update(crc32c::checksum(&record[0..4]), &record[8..])
}

/// SHA-256 of a whole record, as the next record's `prev_hash` holds it.
pub fn hash_record(record: &[u8]) -> Hash {
    hash_at(ring::digest::digest(&ring::digest::SHA256, record).as_ref())
}

/// A record whose length and checksum are right.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    /// Byte offset in the segment file.
    pub offset: u64,
    pub seq: u64,
    /// Microseconds since the Unix epoch.
    pub time: i64,
    pub prev_hash: Hash,
    pub payload: &'a [u8],
    /// The whole record, header included.
    pub bytes: &'a [u8],
}

impl RawRecord<'_> {
    pub fn hash(&self) -> Hash {
        hash_record(self.bytes)
    }

    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// What the decoder finds at a position.
#[derive(Debug, Clone)]
pub enum Item<'a> {
    Record(RawRecord<'a>),
    /// Bytes at `offset` are not a valid record. Decoding goes on at
    /// `resumed_at`, the next valid record found after them, if any; with
    /// `None` nothing valid follows and iteration ends.
    Damaged {
        offset: u64,
        reason: String,
        resumed_at: Option<u64>,
    },
    /// The bytes from `offset` to the end are an unfinished record (too few
    /// bytes for its header or its length) or zeros: a write cut short, or
    /// one still going on. Iteration ends.
    Incomplete {
        offset: u64,
    },
}

enum Check<'a> {
    Ok(RawRecord<'a>),
    Short,
    Bad(String),
}

/// Decodes records one after the other from `bytes`, which start at byte
/// `base` of the file. `last_seq` is the sequence number before the first
/// record (used to tell a real record from noise when resynchronising).
pub struct Records<'a> {
    bytes: &'a [u8],
    base: u64,
    pos: usize,
    last_seq: u64,
    done: bool,
}

impl<'a> Records<'a> {
    pub fn new(bytes: &'a [u8], base: u64, last_seq: u64) -> Records<'a> {
        Records {
            bytes,
            base,
            pos: 0,
            last_seq,
            done: false,
        }
    }

    fn check_at(&self, pos: usize) -> Check<'a> {
        let rest = &self.bytes[pos..];
        if rest.len() < RECORD_HEADER_LEN {
            return Check::Short;
        }
        let len = le_u32(&rest[0..4]) as usize;
        if len > MAX_PAYLOAD {
            return Check::Bad(format!("length {len} is over the limit of {MAX_PAYLOAD}"));
        }
        let total = RECORD_HEADER_LEN + len;
        if rest.len() < total {
            return Check::Short;
        }
        let record = &rest[..total];
        if record_crc(record) != le_u32(&record[4..8]) {
            return Check::Bad("checksum mismatch".into());
        }
        Check::Ok(RawRecord {
            offset: self.base + pos as u64,
            seq: le_u64(&record[8..16]),
            time: le_u64(&record[16..24]) as i64,
            prev_hash: hash_at(&record[24..56]),
            payload: &record[RECORD_HEADER_LEN..],
            bytes: record,
        })
    }

    /// The next position after `from` holding a record that is valid and
    /// plausibly the next one (its sequence number above the last seen):
    /// the filter keeps the checksum from running at every byte of noise.
    fn resync(&self, from: usize) -> Option<usize> {
        let b = self.bytes;
        let mut p = from;
        while p + RECORD_HEADER_LEN <= b.len() {
            let len = le_u32(&b[p..p + 4]) as usize;
            let seq = le_u64(&b[p + 8..p + 16]);
            let plausible = len <= MAX_PAYLOAD
                && p + RECORD_HEADER_LEN + len <= b.len()
                && seq > self.last_seq
                && seq - self.last_seq <= 1 << 32;
            if plausible && matches!(self.check_at(p), Check::Ok(_)) {
                return Some(p);
            }
            p += 1;
        }
        None
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        if self.done || self.pos >= self.bytes.len() {
            return None;
        }
        let pos = self.pos;
        let offset = self.base + pos as u64;
        match self.check_at(pos) {
            Check::Ok(r) => {
                self.pos += r.bytes.len();
                self.last_seq = r.seq;
                Some(Item::Record(r))
            }
            bad => {
                let next = self.resync(pos + 1);
                let Some(next) = next else {
                    self.done = true;
                    let zeros = self.bytes[pos..].iter().all(|&b| b == 0);
                    return Some(match bad {
                        Check::Bad(reason) if !zeros => Item::Damaged {
                            offset,
                            reason,
                            resumed_at: None,
                        },
                        _ => Item::Incomplete { offset },
                    });
                };
                self.pos = next;
                let reason = match bad {
                    Check::Bad(reason) => reason,
                    _ => "length runs past the next record".into(),
                };
                Some(Item::Damaged {
                    offset,
                    reason,
                    resumed_at: Some(self.base + next as u64),
                })
            }
        }
    }
}

/// Decodes a whole segment file, payloads included, and returns how many
/// records decoded: the fuzz target's entry point. Never panics.
pub fn decode_all(file: &[u8]) -> Result<usize, HeaderError> {
    let header = SegmentHeader::decode(file)?;
    let mut n = 0;
    let body = &file[HEADER_LEN..];
    let last = header.first_seq.saturating_sub(1);
    for item in Records::new(body, HEADER_LEN as u64, last) {
        if let Item::Record(r) = item
            && decode_payload(r.payload).is_ok()
        {
            n += 1;
        }
    }
    Ok(n)
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn hash_at(b: &[u8]) -> Hash {
    let mut h = [0u8; 32];
    h.copy_from_slice(&b[..32]);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn payload(i: u64) -> Payload {
        Payload {
            actor: Some(format!("u{i}")),
            actor_login: "alice".into(),
            business_unit: None,
            ip: Some("10.0.0.1".into()),
            action: "login".into(),
            target: "user alice".into(),
            details: format!("API {i}"),
        }
    }

    /// A segment of `n` records starting at `first`, chained from zeros.
    fn segment(first: u64, n: u64) -> Vec<u8> {
        let mut f = SegmentHeader {
            first_seq: first,
            prev_hash: [0; 32],
        }
        .encode()
        .to_vec();
        let mut prev = [0u8; 32];
        for s in first..first + n {
            let r = encode_record(s, s as i64 * 1000, &prev, &encode_payload(&payload(s)));
            prev = hash_record(&r);
            f.extend(r);
        }
        f
    }

    fn items(file: &[u8], first: u64) -> Vec<Item<'_>> {
        Records::new(&file[HEADER_LEN..], HEADER_LEN as u64, first - 1).collect()
    }

    #[test]
    fn r11_3_header_and_records_round_trip_with_chain() {
        let f = segment(7, 3);
        let h = SegmentHeader::decode(&f).unwrap();
        assert_eq!(h.first_seq, 7);
        let recs: Vec<RawRecord> = items(&f, 7)
            .into_iter()
            .map(|i| match i {
                Item::Record(r) => r,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(recs.iter().map(|r| r.seq).collect::<Vec<_>>(), [7, 8, 9]);
        assert_eq!(recs[1].prev_hash, recs[0].hash());
        assert_eq!(recs[2].prev_hash, recs[1].hash());
        assert_eq!(decode_payload(recs[2].payload).unwrap(), payload(9));
        assert_eq!(recs[0].offset, HEADER_LEN as u64);
        assert_eq!(decode_all(&f), Ok(3));
    }

    #[test]
    fn r11_3_torn_tail_is_incomplete_and_zeros_too() {
        let f = segment(1, 3);
        let full = f.len();
        for cut in [full - 1, full - 30, full - 100] {
            let last = items(&f[..cut], 1).pop().unwrap();
            assert!(
                matches!(last, Item::Incomplete { .. }),
                "cut at {cut}: {last:?}"
            );
        }
        let mut z = f.clone();
        z.extend([0u8; 300]);
        assert!(
            matches!(items(&z, 1).pop(), Some(Item::Incomplete { offset }) if offset == full as u64)
        );
    }

    #[test]
    fn r11_3_flipped_byte_in_middle_is_damage_and_decoding_resumes() {
        let f = segment(1, 3);
        let second = match &items(&f, 1)[1] {
            Item::Record(r) => (r.offset, r.bytes.len()),
            other => panic!("{other:?}"),
        };
        let mut g = f.clone();
        g[second.0 as usize + 70] ^= 0x40;
        let it = items(&g, 1);
        assert!(matches!(it[0], Item::Record(_)));
        match &it[1] {
            Item::Damaged {
                offset,
                reason,
                resumed_at,
            } => {
                assert_eq!(*offset, second.0);
                assert_eq!(reason, "checksum mismatch");
                assert_eq!(*resumed_at, Some(second.0 + second.1 as u64));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(it[2], Item::Record(r) if r.seq == 3));
        // A damaged length field is found as well.
        let mut h = f.clone();
        h[second.0 as usize + 2] ^= 0x10;
        assert!(
            items(&h, 1)
                .iter()
                .any(|i| matches!(i, Item::Damaged { offset, .. } if *offset == second.0))
        );
    }

    #[test]
    fn r11_3_bad_last_record_is_damage_not_incomplete() {
        let mut f = segment(1, 2);
        let n = f.len();
        f[n - 3] ^= 1;
        assert!(matches!(
            items(&f, 1).pop(),
            Some(Item::Damaged {
                resumed_at: None,
                ..
            })
        ));
    }

    #[test]
    fn header_refuses_foreign_and_damaged() {
        let f = segment(1, 0);
        assert_eq!(SegmentHeader::decode(&f[..10]), Err(HeaderError::Short(10)));
        let mut g = f.clone();
        g[0] = b'X';
        assert_eq!(SegmentHeader::decode(&g), Err(HeaderError::Magic));
        let mut g = f.clone();
        g[15] ^= 1;
        assert_eq!(SegmentHeader::decode(&g), Err(HeaderError::Checksum));
        let mut g = f.clone();
        g[8] = 9;
        assert_eq!(SegmentHeader::decode(&g), Err(HeaderError::Version(9)));
    }

    #[test]
    fn payload_bytes_are_as_format_md_says() {
        let p = Payload {
            actor: Some("u".into()),
            actor_login: "al".into(),
            business_unit: None,
            ip: Some("1.2.3.4".into()),
            action: "a".into(),
            target: "t".into(),
            details: "x".repeat(300),
        };
        let mut want = vec![1, 0, 1, 1, b'u', 2, b'a', b'l', 0, 1, 7];
        want.extend(b"1.2.3.4");
        want.extend([1, b'a', 1, b't', 251, 0x2c, 0x01]);
        want.extend([b'x'; 300]);
        assert_eq!(encode_payload(&p), want);
        // Record layout: length, CRC, seq, time, previous hash, payload.
        let r = encode_record(0x0102, -1, &[7; 32], b"pq");
        assert_eq!(&r[0..4], &[2, 0, 0, 0]);
        assert_eq!(&r[8..16], &[2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&r[16..24], &[0xff; 8]);
        assert_eq!(&r[24..56], &[7; 32]);
        assert_eq!(&r[56..], b"pq");
        let mut crc_input = r[0..4].to_vec();
        crc_input.extend(&r[8..]);
        assert_eq!(&r[4..8], &crc32c::checksum(&crc_input).to_le_bytes());
    }

    #[test]
    fn names_are_twenty_digits() {
        assert_eq!(segment_name(42), "00000000000000000042.seg");
        assert_eq!(parse_segment_name("00000000000000000042.seg"), Some(42));
        assert_eq!(parse_segment_name("42.seg"), None);
        assert_eq!(parse_segment_name("0000000000000000004x.seg"), None);
    }

    #[test]
    fn long_details_are_cut_to_fit() {
        let mut p = payload(1);
        p.details = "é".repeat(MAX_PAYLOAD);
        let bytes = encode_payload(&p);
        assert!(bytes.len() < MAX_PAYLOAD);
        assert!(decode_payload(&bytes).unwrap().details.ends_with("…[cut]"));
    }

    #[test]
    fn payload_decoder_names_what_is_wrong() {
        let good = encode_payload(&payload(1));
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(decode_payload(&trailing), Err(PayloadError::Trailing(1)));
        let mut bad_tag = good.clone();
        bad_tag[2] = 2;
        assert!(
            matches!(decode_payload(&bad_tag), Err(PayloadError::Body(e)) if e.contains("option tag 2"))
        );
        assert!(
            matches!(decode_payload(&good[..good.len() - 1]), Err(PayloadError::Body(e)) if e.contains("ends inside"))
        );
    }

    proptest! {
        /// Logs written while bincode encoded payloads read the same: the
        /// hand-written layout is the one it produced.
        #[test]
        fn payload_bytes_match_what_bincode_wrote(actor in proptest::option::of(".{0,20}"),
                                                  login in ".{0,300}", ip in proptest::option::of("[0-9.:a-f]{0,40}"),
                                                  details in proptest::collection::vec(any::<char>(), 0..70_000)) {
            let p = Payload { actor, actor_login: login, business_unit: None, ip,
                              action: "user.update".into(), target: "t".into(),
                              details: details.into_iter().collect::<String>().chars().take(20_000).collect() };
            let mut old = PAYLOAD_VERSION.to_le_bytes().to_vec();
            old.extend(bincode::serde::encode_to_vec(&p, bincode::config::standard()).unwrap());
            prop_assert_eq!(&encode_payload(&p), &old);
            prop_assert_eq!(decode_payload(&old).unwrap(), p);
        }

        #[test]
        fn payload_decoder_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut bytes = PAYLOAD_VERSION.to_le_bytes().to_vec();
            bytes.extend(body);
            let _ = decode_payload(&bytes);
        }

        #[test]
        fn payload_round_trips(actor in proptest::option::of(".{0,20}"), login in ".{0,20}",
                               unit in proptest::option::of(".{0,20}"), details in ".{0,200}") {
            let p = Payload { actor, actor_login: login, business_unit: unit, ip: None,
                              action: "a.b".into(), target: "t".into(), details };
            prop_assert_eq!(decode_payload(&encode_payload(&p)).unwrap(), p);
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600), flip in any::<usize>()) {
            let _ = decode_all(&bytes);
            let mut f = segment(3, 4);
            let i = flip % f.len();
            f[i] ^= 0x5a;
            let _ = decode_all(&f);
            f.truncate(i);
            let _ = decode_all(&f);
        }
    }
}
