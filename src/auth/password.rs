//! argon2id password hashing with parameters from the config.
//!
//! Hashes are stored as PHC strings, which carry their own parameters, so a
//! change of parameters leaves old hashes verifiable (and rehashed at the
//! next login).
//!
//! argon2's working memory (19 MiB by default) is kept by each hashing
//! thread and reused: allocated per hash, glibc keeps such blocks resident
//! across its arenas, and the daemon's memory grew by ~200 MB over a few
//! thousand logins. Only the hashing pool's threads keep it (they are
//! `auth.hash_workers`, for the daemon's life); a hash on any other thread
//! (the start-up's decoy hash, `init`) frees it again. It is cleared after
//! each use.

use std::cell::{Cell, RefCell};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use zeroize::Zeroize;

use crate::config::AuthConfig;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2 parameters are not usable: {0}")]
    Params(String),
    #[error("hashing failed: {0}")]
    Hash(String),
}

#[derive(Clone)]
pub struct Hasher {
    params: Params,
}

impl Hasher {
    pub fn from_config(c: &AuthConfig) -> Result<Hasher, HashError> {
        let params = Params::new(
            c.argon2_memory_kib,
            c.argon2_iterations,
            c.argon2_parallelism,
            None,
        )
        .map_err(|e| HashError::Params(e.to_string()))?;
        Ok(Hasher { params })
    }

    pub fn hash(&self, secret: &str) -> Result<String, HashError> {
        let hash_err = |e: &dyn std::fmt::Display| HashError::Hash(e.to_string());
        let mut salt = [0u8; 16];
        crate::ids::fill_random(&mut salt);
        let salt_b64 = SaltString::encode_b64(&salt).map_err(|e| hash_err(&e))?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        with_memory(&argon2, secret.as_bytes(), &salt, &mut out).map_err(|e| hash_err(&e))?;
        let output = Output::new(&out).map_err(|e| hash_err(&e))?;
        let phc = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: (&self.params).try_into().map_err(|e| hash_err(&e))?,
            salt: Some(salt_b64.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    /// True when `secret` matches `phc`, under the parameters `phc` names.
    /// A malformed stored hash never matches.
    pub fn verify(&self, secret: &str, phc: &str) -> bool {
        let Ok(h) = PasswordHash::new(phc) else {
            return false;
        };
        let parts = (
            Algorithm::try_from(h.algorithm),
            h.version.map_or(Ok(Version::default()), Version::try_from),
            Params::try_from(&h),
            h.salt,
            h.hash,
        );
        let (Ok(algorithm), Ok(version), Ok(params), Some(salt), Some(expected)) = parts else {
            return false;
        };
        if !self.affordable(&params) {
            tracing::warn!(
                m_cost = params.m_cost(),
                t_cost = params.t_cost(),
                p_cost = params.p_cost(),
                "a stored password hash asks for more than any configuration would; refused"
            );
            return false;
        }
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = &mut out[..expected.len()];
        let argon2 = Argon2::new(algorithm, version, params);
        if with_memory(&argon2, secret.as_bytes(), salt, out).is_err() {
            return false;
        }
        // Output's equality is constant-time.
        Output::new(out).is_ok_and(|o| o == expected)
    }

    /// Whether a stored hash's parameters are within what this daemon would
    /// ever configure (or more, up to its own configuration): a stored hash
    /// cannot make a hashing thread take gigabytes or hours.
    fn affordable(&self, p: &Params) -> bool {
        p.m_cost() <= self.params.m_cost().max(MAX_M_COST_KIB)
            && p.t_cost() <= self.params.t_cost().max(MAX_T_COST)
            && p.p_cost() <= self.params.p_cost().max(MAX_P_COST)
    }

    /// Whether `phc` was made with other parameters than the configured ones.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(h) => match Params::try_from(&h) {
                Ok(p) => {
                    h.algorithm != argon2::ARGON2ID_IDENT
                        || p.m_cost() != self.params.m_cost()
                        || p.t_cost() != self.params.t_cost()
                        || p.p_cost() != self.params.p_cost()
                }
                Err(_) => true,
            },
            Err(_) => true,
        }
    }
}

/// The most a stored hash may ask for when the configuration asks less:
/// 256 MiB, 16 passes, 16 lanes.
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

thread_local! {
    /// This thread's argon2 working memory, sized to its last hash's
    /// parameters (grown, or shrunk when twice too large).
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    /// Whether this thread keeps [`BLOCKS`] between hashes.
    static KEEPS: Cell<bool> = const { Cell::new(false) };
}

/// Makes this thread keep its argon2 working memory between hashes: for
/// the hashing pool's threads, which are few and live as long as the daemon.
pub fn keep_working_memory_on_this_thread() {
    KEEPS.with(|k| k.set(true));
}

/// Hashes into `out` with this thread's reused working memory, cleared
/// again before it returns.
fn with_memory(
    argon2: &Argon2<'_>,
    secret: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        let need = argon2.params().block_count();
        // Grown to fit; shrunk again after a larger hash (one made before the
        // operator lowered argon2_memory_kib), so that the kept memory
        // follows the configuration.
        if blocks.len() < need || blocks.len() > 2 * need {
            *blocks = vec![Block::default(); need];
        }
        let result = argon2.hash_password_into_with_memory(secret, salt, out, &mut blocks[..need]);
        // What was derived from the secret does not outlive the hash.
        blocks[..need].iter_mut().for_each(Zeroize::zeroize);
        if !KEEPS.with(Cell::get) {
            *blocks = Vec::new();
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    fn cheap() -> Hasher {
        let c = AuthConfig {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            ..AuthConfig::default()
        };
        Hasher::from_config(&c).unwrap()
    }

    #[test]
    fn hash_verifies_only_the_same_secret() {
        let h = cheap();
        let phc = h.hash("Correct-Horse-1").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(h.verify("Correct-Horse-1", &phc));
        assert!(!h.verify("correct-horse-1", &phc), "case-sensitive");
        assert!(!h.verify("Correct-Horse-1", "not a hash"));
    }

    #[test]
    fn parameter_change_asks_for_rehash() {
        let h = cheap();
        let phc = h.hash("x").unwrap();
        assert!(!h.needs_rehash(&phc));
        let c = AuthConfig {
            argon2_memory_kib: 128,
            argon2_iterations: 1,
            ..AuthConfig::default()
        };
        assert!(Hasher::from_config(&c).unwrap().needs_rehash(&phc));
    }

    /// The reused-memory path makes and reads exactly the PHC strings the
    /// argon2 crate's own hasher does: old hashes keep verifying, and new
    /// ones verify anywhere.
    #[test]
    fn hashes_match_the_argon2_crate_both_ways() {
        let h = cheap();
        let ours = h.hash("Correct-Horse-1").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, h.params.clone());
        assert!(
            reference
                .verify_password(b"Correct-Horse-1", &parsed)
                .is_ok()
        );
        assert!(
            reference
                .verify_password(b"Correct-Horse-2", &parsed)
                .is_err()
        );
        // Theirs, with other parameters and an older version and variant.
        for (alg, version, m, t) in [
            (Algorithm::Argon2id, Version::V0x13, 128, 2),
            (Algorithm::Argon2i, Version::V0x10, 64, 1),
            (Algorithm::Argon2d, Version::V0x13, 96, 3),
        ] {
            let params = Params::new(m, t, 1, None).unwrap();
            let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
            let theirs = Argon2::new(alg, version, params)
                .hash_password(b"Battery-Staple-9", &salt)
                .unwrap()
                .to_string();
            assert!(h.verify("Battery-Staple-9", &theirs), "{theirs}");
            assert!(!h.verify("Battery-Staple-8", &theirs), "{theirs}");
        }
        // The same salt and secret give the same string as the crate's.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = reference.hash_password(b"x", &salt).unwrap().to_string();
        let parsed = PasswordHash::new(&theirs).unwrap();
        let mut out = [0u8; 32];
        with_memory(&reference, b"x", b"0123456789abcdef", &mut out).unwrap();
        assert_eq!(parsed.hash.unwrap().as_bytes(), out);
    }

    #[test]
    fn the_working_memory_is_kept_by_pool_threads_only_and_cleared() {
        let h = cheap();
        let other = h.clone();
        let released = std::thread::spawn(move || {
            other.hash("Secret-1").unwrap();
            BLOCKS.with(|b| b.borrow().capacity())
        });
        assert_eq!(released.join().unwrap(), 0, "another thread frees it");
        keep_working_memory_on_this_thread();
        let phc = h.hash("Secret-1").unwrap();
        assert!(h.verify("Secret-1", &phc));
        BLOCKS.with(|b| {
            let blocks = b.borrow();
            assert_eq!(blocks.len(), 64, "one KiB block per KiB of memory cost");
            let default = Block::default();
            assert!(
                blocks.iter().all(|b| b.as_ref() == default.as_ref()),
                "nothing derived from the secret is left"
            );
        });
    }

    #[test]
    fn malformed_and_foreign_hashes_never_match() {
        let h = cheap();
        for phc in [
            "",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$",
            "$argon2id$v=99$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$scrypt$ln=16,r=8,p=1$c2FsdA$AAAA",
            // Parameters no configuration would give: refused unhashed.
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=64,t=100000,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(!h.verify("x", phc), "{phc}");
        }
    }
}
