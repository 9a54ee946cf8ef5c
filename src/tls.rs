//! TLS: the certificate from the config, or a self-signed one generated once
//! into `<data>/tls/`; TLS 1.2 and 1.3 only, ring as the one crypto provider.
//!
//! The one thing to know: the server reads the current configuration from
//! [`Reloadable`] at every handshake, so SIGHUP swaps the certificate without
//! touching open connections.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no usable PEM private key: {detail}")]
    BadKey { path: PathBuf, detail: String },
    #[error("certificate {cert} and key {key} do not make a TLS configuration: {detail}")]
    Config {
        cert: PathBuf,
        key: PathBuf,
        detail: String,
    },
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the certificate in use came from, for the operator.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub cert_path: PathBuf,
    pub generated: bool,
    /// SHA-256 of the leaf certificate, colon-separated hex.
    pub fingerprint: String,
    /// End of the leaf certificate's validity, when it can be read.
    pub not_after: Option<time::OffsetDateTime>,
}

/// Validity of a generated certificate: the 825 days browsers accept for a
/// server certificate, not rcgen's default (the year 4096).
pub const GENERATED_VALIDITY: time::Duration = time::Duration::days(825);

/// `ctl status` warns this long before the certificate expires.
pub const EXPIRY_WARNING: time::Duration = time::Duration::days(30);

/// The warning `ctl status` shows for a certificate that ends at
/// `not_after`, if it ends within [`EXPIRY_WARNING`] of `now` (or has ended).
pub fn expiry_warning(
    not_after: time::OffsetDateTime,
    now: time::OffsetDateTime,
    generated: bool,
) -> Option<String> {
    let left = not_after - now;
    if left > EXPIRY_WARNING {
        return None;
    }
    let when = not_after
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let what = if left.is_negative() {
        format!("the TLS certificate expired at {when}")
    } else {
        format!(
            "the TLS certificate expires at {when}, in {} days",
            left.whole_days()
        )
    };
    let fix = if generated {
        "remove tls/cert.pem and tls/key.pem from the data directory and send SIGHUP (or restart) to generate a new one; clients that pin the fingerprint need the new one"
    } else {
        "install a new certificate at tls.cert/tls.key and send SIGHUP"
    };
    Some(format!("{what}: {fix}"))
}

/// The rustls crypto provider of the whole process.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process default, for libraries that ask for one.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Loads the configured certificate, or makes (once) and loads a self-signed one.
pub fn load(cfg: &TlsConfig, data_dir: &Path) -> Result<(Arc<ServerConfig>, CertInfo), TlsError> {
    let (cert, key, generated) = if cfg.cert.is_empty() {
        let (c, k) = ensure_self_signed(&data_dir.join("tls"))?;
        (c, k, true)
    } else {
        (PathBuf::from(&cfg.cert), PathBuf::from(&cfg.key), false)
    };
    let certs = read_certs(&cert)?;
    let key_der = read_key(&key)?;
    let fingerprint = fingerprint(&certs[0]);
    let not_after = not_after(&certs[0]);
    let config = server_config(certs, key_der).map_err(|detail| TlsError::Config {
        cert: cert.clone(),
        key,
        detail,
    })?;
    Ok((
        Arc::new(config),
        CertInfo {
            cert_path: cert,
            generated,
            fingerprint,
            not_after,
        },
    ))
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, String> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::BadKey {
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

/// Makes `<dir>/cert.pem` and `<dir>/key.pem` unless both exist.
fn ensure_self_signed(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Write { path, source }
    };
    crate::fsutil::create_private_dir(dir).map_err(write_err(dir))?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Some(host) = hostname()
        && !names.contains(&host)
    {
        names.push(host);
    }
    let mut params =
        rcgen::CertificateParams::new(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "bailiwick self-signed");
    // A day back, for clocks a little behind; then the accepted maximum.
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + GENERATED_VALIDITY;
    let key_pair = rcgen::KeyPair::generate().map_err(|e| TlsError::Generate(e.to_string()))?;
    let certificate = params
        .self_signed(&key_pair)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    // Key first: a crash in between leaves no certificate without its key.
    crate::fsutil::write_private_atomic(&key, key_pair.serialize_pem().as_bytes())
        .map_err(write_err(&key))?;
    crate::fsutil::write_private_atomic(&cert, certificate.pem().as_bytes())
        .map_err(write_err(&cert))?;
    tracing::info!(path = %cert.display(), "generated a self-signed TLS certificate");
    Ok((cert, key))
}

fn hostname() -> Option<String> {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty()).then(|| h.to_owned())
}

/// SHA-256 over the DER certificate, as `AB:CD:...`.
pub fn fingerprint(cert: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `notAfter` of a DER X.509 certificate: Certificate ::= SEQUENCE {
/// tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
/// issuer, validity SEQUENCE { notBefore, notAfter }, ... }, ... }.
/// `None` when the certificate cannot be read that far.
pub fn not_after(cert: &[u8]) -> Option<time::OffsetDateTime> {
    let (_, cert, _) = der_item(cert)?;
    let (_, mut tbs, _) = der_item(cert)?;
    let (tag, _, rest) = der_item(tbs)?;
    if tag == 0xa0 {
        tbs = rest;
    }
    // serialNumber, signature, issuer.
    for _ in 0..3 {
        tbs = der_item(tbs)?.2;
    }
    let (_, validity, _) = der_item(tbs)?;
    let (_, _, validity) = der_item(validity)?;
    let (tag, time, _) = der_item(validity)?;
    let text = std::str::from_utf8(time).ok()?;
    let full = match tag {
        // UTCTime: YYMMDDHHMMSSZ, years 1950-2049 (RFC 5280).
        0x17 => {
            let yy: u32 = text.get(..2)?.parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{text}")
        }
        // GeneralizedTime: YYYYMMDDHHMMSSZ.
        0x18 => text.to_owned(),
        _ => return None,
    };
    let format = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    time::PrimitiveDateTime::parse(&full, &format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// One DER item: (tag, contents, what follows).
fn der_item(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The TLS configuration in force, swapped whole on reload.
pub struct Reloadable {
    current: ArcSwap<ServerConfig>,
}

impl Reloadable {
    pub fn new(config: Arc<ServerConfig>) -> Reloadable {
        Reloadable {
            current: ArcSwap::new(config),
        }
    }

    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    /// Loads again; on error the old configuration stays in force.
    pub fn reload(&self, cfg: &TlsConfig, data_dir: &Path) -> Result<CertInfo, TlsError> {
        let (config, info) = load(cfg, data_dir)?;
        self.current.store(config);
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_made_once_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (_, first) = load(&TlsConfig::default(), dir.path()).unwrap();
        assert!(first.generated);
        let mode = std::fs::metadata(dir.path().join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (_, again) = load(&TlsConfig::default(), dir.path()).unwrap();
        assert_eq!(first.fingerprint, again.fingerprint, "not regenerated");
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
    }

    #[test]
    fn generated_certificate_is_valid_825_days_and_warned_about_30_days_before() {
        let dir = tempfile::tempdir().unwrap();
        let before = time::OffsetDateTime::now_utc();
        let (_, info) = load(&TlsConfig::default(), dir.path()).unwrap();
        let after = time::OffsetDateTime::now_utc();
        let end = info
            .not_after
            .expect("notAfter read back from the certificate");
        // Second precision in the certificate.
        assert!(end >= before + GENERATED_VALIDITY - time::Duration::seconds(1));
        assert!(end <= after + GENERATED_VALIDITY);
        // The warning window.
        assert_eq!(
            expiry_warning(end, end - time::Duration::days(31), true),
            None
        );
        let soon = expiry_warning(end, end - time::Duration::days(29), true).unwrap();
        assert!(
            soon.contains("in 29 days") && soon.contains("SIGHUP"),
            "{soon}"
        );
        let gone = expiry_warning(end, end + time::Duration::days(1), false).unwrap();
        assert!(
            gone.contains("expired") && gone.contains("tls.cert"),
            "{gone}"
        );
    }

    #[test]
    fn not_after_reads_utc_and_generalized_times() {
        use rcgen::{CertificateParams, KeyPair, date_time_ymd};
        for year in [2031, 2077] {
            let mut p = CertificateParams::new(vec!["x".into()]).unwrap();
            p.not_after = date_time_ymd(year, 6, 30);
            let cert = p.self_signed(&KeyPair::generate().unwrap()).unwrap();
            assert_eq!(not_after(cert.der()), Some(date_time_ymd(year, 6, 30)));
        }
        assert_eq!(not_after(b"\x30\x03junk"), None);
        assert_eq!(not_after(&[]), None);
    }

    #[test]
    fn configured_files_that_are_not_pem_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        let cfg = TlsConfig {
            cert: junk.display().to_string(),
            key: junk.display().to_string(),
        };
        let err = load(&cfg, dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("junk.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
    }
}
