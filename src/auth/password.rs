//! argon2id password hashing with parameters from the config.
//!
//! Hashes are stored as PHC strings, which carry their own parameters, so a
//! change of parameters leaves old hashes verifiable (and rehashed at the
//! next login).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

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

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn hash(&self, secret: &str) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        crate::ids::fill_random(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Hash(e.to_string()))?;
        self.argon2()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError::Hash(e.to_string()))
    }

    /// True when `secret` matches `phc`. A malformed stored hash never matches.
    pub fn verify(&self, secret: &str, phc: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(h) => self.argon2().verify_password(secret.as_bytes(), &h).is_ok(),
            Err(_) => false,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
