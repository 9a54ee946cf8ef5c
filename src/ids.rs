//! Identifiers and secrets made from the operating system's random source.

use base64::Engine;

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new opaque id: 26 characters, 48 bits of milliseconds then 80 random
/// bits, so ids sort by creation time (ULID layout, lower case).
pub fn new_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut rand = [0u8; 10];
    fill_random(&mut rand);
    let mut value: u128 = (u128::from(ms & 0xFFFF_FFFF_FFFF)) << 80;
    for (i, b) in rand.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    let mut out = String::with_capacity(26);
    for i in (0..26).rev() {
        out.push(CROCKFORD[((value >> (5 * i)) & 31) as usize] as char);
    }
    out
}

/// A secret token of 256 random bits, base64url without padding.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token, hex: what is stored instead of the token.
/// The one-time link of an activation or reset token (R7.1, R7.2): the
/// console's page, which uses nothing up when opened (mail scanners open
/// links), so the person reveals the password with a button. Scripts open
/// the same token at `/api/v1/activation/{token}`.
pub fn activation_link(public_url: &str, token: &str) -> String {
    format!("{public_url}/ui/activation/{token}")
}

pub fn token_hash(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

pub fn hex(bytes: &[u8]) -> String {
    // Every authenticated request hashes its token: no formatter per byte.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

pub fn fill_random(buf: &mut [u8]) {
    use ring::rand::SecureRandom;
    // ring's generator is the operating system's (getrandom(2)); it failing
    // leaves no safe way to make secrets.
    ring::rand::SystemRandom::new()
        .fill(buf)
        .expect("operating system random source");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_sortable_and_opaque() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert_eq!(a.len(), 26);
        assert!(a < b, "{a} then {b}");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn tokens_carry_256_bits_and_hash_stably() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, new_token());
        assert_eq!(token_hash("abc").len(), 64);
        // Stored hashes must not change with the code: SHA-256, lower hex.
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&[0x00, 0x0f, 0xf0, 0xff]), "000ff0ff");
    }
}
