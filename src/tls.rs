//! TLS: the certificate from the config, or a self-signed one generated once
//! into `<data>/tls/`; TLS 1.2 and 1.3 only, ring as the one crypto provider.
//!
//! The one thing to know: the server reads the current configuration from
//! [`Reloadable`] at every handshake, so SIGHUP swaps the certificate without
//! touching open connections.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{Config, TlsConfig};

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
    /// The leaf certificate's DNS names and IP addresses.
    pub names: Vec<String>,
}

/// What a generated certificate names beyond localhost, the loopback
/// addresses and the host name: the names the appliance's other services
/// will check it against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// `server.public_url`'s host. A generated certificate that does not
    /// name it is made again, so that the name people and services use
    /// passes their check.
    pub public_host: Option<String>,
    /// Name every non-loopback interface address too (wildcard listeners),
    /// when a certificate is generated.
    pub interface_addresses: bool,
}

impl Wanted {
    pub fn for_config(config: &Config) -> Wanted {
        Wanted {
            public_host: url_host(&config.server.public_url),
            interface_addresses: config.server.listen.ip().is_unspecified(),
        }
    }
}

/// The host of an `https://` URL, lower-cased, an IP address in its
/// canonical form; `None` for an empty URL.
fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return None;
    }
    Some(match host.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => host.to_ascii_lowercase(),
    })
}

/// Validity of a generated certificate: the 825 days browsers accept for a
/// server certificate, not rcgen's default (the year 4096).
pub const GENERATED_VALIDITY: time::Duration = time::Duration::days(825);

/// The common name of the certificates this daemon generates.
const GENERATED_NAME: &str = "bailiwick self-signed";

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

/// Loads the configured certificate, or makes (once, and again when it does
/// not name `wanted.public_host`) and loads a self-signed one.
pub fn load(
    cfg: &TlsConfig,
    data_dir: &Path,
    wanted: &Wanted,
) -> Result<(Arc<ServerConfig>, CertInfo), TlsError> {
    let (cert, key, generated) = if cfg.cert.is_empty() {
        let (c, k) = ensure_self_signed(&data_dir.join("tls"), wanted)?;
        (c, k, true)
    } else {
        (PathBuf::from(&cfg.cert), PathBuf::from(&cfg.key), false)
    };
    let certs = read_certs(&cert)?;
    let key_der = read_key(&key)?;
    let fingerprint = fingerprint(&certs[0]);
    let not_after = not_after(&certs[0]);
    let names = names(&certs[0]);
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
            names,
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

/// Makes `<dir>/cert.pem` and `<dir>/key.pem` unless both exist and the
/// certificate names `wanted.public_host`.
fn ensure_self_signed(dir: &Path, wanted: &Wanted) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        let Some(host) = &wanted.public_host else {
            return Ok((cert, key));
        };
        // Only a certificate this daemon made, and could read, is replaced:
        // one an operator put here (a CA's wildcard, say) is theirs, and an
        // unreadable one is left for `load` to report.
        let replace = read_certs(&cert).ok().is_some_and(|c| {
            let ours = c[0]
                .windows(GENERATED_NAME.len())
                .any(|w| w == GENERATED_NAME.as_bytes());
            ours && san(&c[0]).is_some_and(|n| !n.contains(host))
        });
        if !replace {
            return Ok((cert, key));
        }
        tracing::warn!(
            host = %host,
            "the generated certificate does not name server.public_url's host; generating a new one (the old pair is kept as *.pem.old; clients that pinned the old fingerprint must pin the new one)"
        );
        // Moved aside first: a crash before the new pair is whole leaves no
        // certificate beside a key not its own, and the next start makes one.
        for path in [&cert, &key] {
            std::fs::rename(path, path.with_extension("pem.old")).map_err(|source| {
                TlsError::Write {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        }
    }
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Write { path, source }
    };
    crate::fsutil::create_private_dir(dir).map_err(write_err(dir))?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    names.extend(hostname());
    names.extend(wanted.public_host.clone());
    if wanted.interface_addresses {
        names.extend(interface_addresses().iter().map(IpAddr::to_string));
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    let mut params =
        rcgen::CertificateParams::new(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, GENERATED_NAME);
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
    (!h.is_empty()).then(|| h.to_ascii_lowercase())
}

/// This machine's interface addresses other than loopback and IPv6
/// link-local (which other machines reach only with a zone).
fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates the list and points `head` at it; each
    // node and its address are read while the list lives, and the list is
    // freed once, after the last read.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "cannot list the interface addresses; the generated certificate names none of them"
            );
            return out;
        }
        let mut node = head;
        while let Some(ifa) = node.as_ref() {
            if let Some(addr) = ifa.ifa_addr.as_ref() {
                match i32::from(addr.sa_family) {
                    libc::AF_INET => {
                        let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                        out.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                            sin.sin_addr.s_addr,
                        ))));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                        out.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
                    }
                    _ => {}
                }
            }
            node = ifa.ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out.retain(|ip| match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified() && !v4.is_link_local(),
        IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unspecified() && !v6.is_unicast_link_local(),
    });
    out.sort();
    out.dedup();
    out
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

/// The DNS names and IP addresses of a DER X.509 certificate's subject
/// alternative names: tbsCertificate's `[3]` extensions, the one with OID
/// 2.5.29.17, a SEQUENCE of GeneralName (`[2]` dNSName, `[7]` iPAddress).
/// Empty when the certificate cannot be read that far.
pub fn names(cert: &[u8]) -> Vec<String> {
    san(cert).unwrap_or_default()
}

fn san(cert: &[u8]) -> Option<Vec<String>> {
    const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];
    let (_, cert, _) = der_item(cert)?;
    let (_, mut tbs, _) = der_item(cert)?;
    let (tag, _, rest) = der_item(tbs)?;
    if tag == 0xa0 {
        tbs = rest;
    }
    // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo.
    for _ in 0..6 {
        tbs = der_item(tbs)?.2;
    }
    let mut extensions = None;
    while let Some((tag, contents, rest)) = der_item(tbs) {
        if tag == 0xa3 {
            extensions = Some(der_item(contents)?.1);
        }
        tbs = rest;
    }
    let mut list = extensions?;
    while let Some((_, extension, rest)) = der_item(list) {
        list = rest;
        let (_, oid, mut fields) = der_item(extension)?;
        if oid != SAN_OID {
            continue;
        }
        // critical BOOLEAN DEFAULT FALSE, then the value's OCTET STRING.
        let (mut tag, mut value, rest) = der_item(fields)?;
        if tag == 0x01 {
            fields = rest;
            (tag, value, _) = der_item(fields)?;
        }
        if tag != 0x04 {
            return None;
        }
        let (_, mut general, _) = der_item(value)?;
        let mut out = Vec::new();
        while let Some((tag, name, rest)) = der_item(general) {
            general = rest;
            match tag {
                0x82 => out.push(String::from_utf8_lossy(name).to_ascii_lowercase()),
                0x87 => match name.len() {
                    4 => out.push(Ipv4Addr::from(<[u8; 4]>::try_from(name).ok()?).to_string()),
                    16 => out.push(Ipv6Addr::from(<[u8; 16]>::try_from(name).ok()?).to_string()),
                    _ => {}
                },
                _ => {}
            }
        }
        return Some(out);
    }
    Some(Vec::new())
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
    pub fn reload(
        &self,
        cfg: &TlsConfig,
        data_dir: &Path,
        wanted: &Wanted,
    ) -> Result<CertInfo, TlsError> {
        let (config, info) = load(cfg, data_dir, wanted)?;
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
        let (_, first) = load(&TlsConfig::default(), dir.path(), &Wanted::default()).unwrap();
        assert!(first.generated);
        let mode = std::fs::metadata(dir.path().join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (_, again) = load(&TlsConfig::default(), dir.path(), &Wanted::default()).unwrap();
        assert_eq!(first.fingerprint, again.fingerprint, "not regenerated");
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
    }

    #[test]
    fn generated_certificate_is_valid_825_days_and_warned_about_30_days_before() {
        let dir = tempfile::tempdir().unwrap();
        let before = time::OffsetDateTime::now_utc();
        let (_, info) = load(&TlsConfig::default(), dir.path(), &Wanted::default()).unwrap();
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
        let err = load(&cfg, dir.path(), &Wanted::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("junk.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
    }

    #[test]
    fn a_generated_certificate_names_the_public_host_and_is_made_again_for_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let (_, first) = load(&TlsConfig::default(), dir.path(), &Wanted::default()).unwrap();
        for name in ["localhost", "127.0.0.1", "::1"] {
            assert!(first.names.iter().any(|n| n == name), "{:?}", first.names);
        }
        let wanted = Wanted {
            public_host: url_host("https://Bailiwick.Example:8443/"),
            interface_addresses: false,
        };
        let (_, second) = load(&TlsConfig::default(), dir.path(), &wanted).unwrap();
        assert_ne!(first.fingerprint, second.fingerprint, "made again");
        assert!(
            second.names.iter().any(|n| n == "bailiwick.example"),
            "{:?}",
            second.names
        );
        let old = std::fs::read(dir.path().join("tls/cert.pem.old")).unwrap();
        assert!(
            old.starts_with(b"-----BEGIN CERTIFICATE"),
            "the replaced pair is kept aside"
        );
        // Named already: kept, whatever else is wanted.
        let (_, third) = load(&TlsConfig::default(), dir.path(), &wanted).unwrap();
        assert_eq!(second.fingerprint, third.fingerprint);
        let (_, fourth) = load(&TlsConfig::default(), dir.path(), &Wanted::default()).unwrap();
        assert_eq!(second.fingerprint, fourth.fingerprint);
    }

    #[test]
    fn wildcard_listeners_name_the_interface_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let wanted = Wanted {
            public_host: url_host("https://[2001:DB8::7]:8443"),
            interface_addresses: true,
        };
        let (_, info) = load(&TlsConfig::default(), dir.path(), &wanted).unwrap();
        assert!(
            info.names.iter().any(|n| n == "2001:db8::7"),
            "{:?}",
            info.names
        );
        let addresses = interface_addresses();
        for ip in &addresses {
            assert!(
                info.names.contains(&ip.to_string()),
                "{ip}: {:?}",
                info.names
            );
            assert!(!ip.is_loopback());
        }
        // A machine with a route beyond loopback has an address to name (a
        // sandbox may have loopback only).
        let routable = std::fs::read_to_string("/proc/net/route")
            .is_ok_and(|t| t.lines().skip(1).any(|l| !l.starts_with("lo")));
        if routable {
            assert!(!addresses.is_empty(), "getifaddrs found no address");
        }
        let unique: std::collections::HashSet<_> = info.names.iter().collect();
        assert_eq!(unique.len(), info.names.len(), "{:?}", info.names);
    }

    #[test]
    fn url_hosts_are_read_as_clients_would() {
        let host = |u: &str| url_host(u);
        assert_eq!(host(""), None);
        assert_eq!(host("https://"), None);
        assert_eq!(host("https://Box.Example"), Some("box.example".into()));
        assert_eq!(
            host("https://box.example:8443/x?y#z"),
            Some("box.example".into())
        );
        assert_eq!(host("https://10.1.2.3:8443"), Some("10.1.2.3".into()));
        assert_eq!(
            host("https://[2001:0db8::1]:8443/"),
            Some("2001:db8::1".into())
        );
    }

    #[test]
    fn names_read_dns_and_ip_alternative_names_and_nothing_from_junk() {
        let params = rcgen::CertificateParams::new(vec![
            "a.example".to_string(),
            "10.0.0.1".into(),
            "fe80::1".into(),
        ])
        .unwrap();
        let cert = params
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap();
        assert_eq!(names(cert.der()), ["a.example", "10.0.0.1", "fe80::1"]);
        assert!(names(b"\x30\x03junk").is_empty());
        assert!(names(&[]).is_empty());
    }

    #[test]
    fn a_certificate_the_operator_put_in_the_data_dir_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        let theirs =
            rcgen::generate_simple_self_signed(vec!["*.corp.example".to_string()]).unwrap();
        std::fs::write(tls.join("cert.pem"), theirs.cert.pem()).unwrap();
        std::fs::write(tls.join("key.pem"), theirs.signing_key.serialize_pem()).unwrap();
        let wanted = Wanted {
            public_host: Some("box.corp.example".into()),
            interface_addresses: false,
        };
        let (_, info) = load(&TlsConfig::default(), dir.path(), &wanted).unwrap();
        assert_eq!(info.names, ["*.corp.example"]);
        assert_eq!(
            std::fs::read_to_string(tls.join("cert.pem")).unwrap(),
            theirs.cert.pem()
        );
    }
}
