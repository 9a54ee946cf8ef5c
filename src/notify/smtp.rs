//! The SMTP transport (R12.2): STARTTLS or implicit TLS through rustls with
//! ring (the process's one crypto provider), optional authentication, and
//! an extra CA file for internal relays. `plain` exists for a relay on
//! loopback only (config validation refuses it elsewhere).
//!
//! The one thing to know: a 5xx answer is permanent and fails the message at
//! once; everything else (refused connection, 4xx, TLS trouble, timeouts) is
//! retried with backoff by the delivery task.

use std::time::Duration;

use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncTransport, Tokio1Executor};

use super::message::Outgoing;
use super::{SendError, SetupError};
use crate::config::{MailConfig, SmtpSecurity};

/// How long one conversation with the relay may take.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Smtp {
    host: String,
    port: u16,
    /// For STARTTLS (RFC 3207), required before anything else is said.
    starttls: Option<Box<TlsParameters>>,
    credentials: Option<Credentials>,
    /// Implicit TLS (RFC 8314) goes through lettre's own transport, which
    /// connects without `TCP_NODELAY` (see [`Smtp::converse`]).
    implicit: Option<Box<AsyncSmtpTransport<Tokio1Executor>>>,
}

impl Smtp {
    /// Reads the password and CA files now, so that a mistake in them stops
    /// the daemon at start with the key named, not at the first email.
    pub fn from_config(cfg: &MailConfig) -> Result<Smtp, SetupError> {
        let credentials = if cfg.smtp_username.is_empty() {
            None
        } else {
            let password = read_password(&cfg.smtp_password_file)?;
            Some(Credentials::new(cfg.smtp_username.clone(), password))
        };
        let (starttls, implicit) = match cfg.smtp_security {
            SmtpSecurity::Plain => (None, None),
            SmtpSecurity::Starttls => (Some(Box::new(tls_parameters(cfg)?)), None),
            SmtpSecurity::Implicit => {
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.smtp_host.clone())
                        .port(cfg.smtp_port)
                        .tls(Tls::Wrapper(tls_parameters(cfg)?))
                        .timeout(Some(TIMEOUT));
                if let Some(c) = &credentials {
                    builder = builder.credentials(c.clone());
                }
                (None, Some(Box::new(builder.build())))
            }
        };
        Ok(Smtp {
            host: cfg.smtp_host.clone(),
            port: cfg.smtp_port,
            starttls,
            credentials,
            implicit,
        })
    }

    pub async fn send(&self, out: &Outgoing) -> Result<(), SendError> {
        if let Some(t) = &self.implicit {
            return t.send(out.message.clone()).await.map(drop).map_err(failed);
        }
        match tokio::time::timeout(TIMEOUT, self.converse(out)).await {
            Ok(r) => r,
            Err(_) => Err(SendError::transient(format!(
                "SMTP: {}:{} did not finish the conversation within {TIMEOUT:?}",
                self.host, self.port
            ))),
        }
    }

    /// One connection, one message, as lettre's transport would, but on a
    /// socket with `TCP_NODELAY`: the message and its closing dot go out in
    /// two writes, and without it the dot waits for the relay's delayed ACK,
    /// 40 ms a message.
    async fn converse(&self, out: &Outgoing) -> Result<(), SendError> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                SendError::transient(format!(
                    "SMTP: cannot connect to {}:{}: {e}",
                    self.host, self.port
                ))
            })?;
        // Best effort: without it the message still goes, only slower.
        let _ = tcp.set_nodelay(true);
        let hello = ClientId::default();
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
            .await
            .map_err(failed)?;
        let sent = async {
            if let Some(tls) = &self.starttls {
                conn.starttls(TlsParameters::clone(tls), &hello).await?;
            }
            if let Some(c) = &self.credentials {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], c).await?;
            }
            conn.send(out.message.envelope(), &out.message.formatted())
                .await
        }
        .await;
        match sent {
            Ok(_) => {
                // The relay has the message; a failed goodbye changes nothing.
                let _ = conn.quit().await;
                Ok(())
            }
            Err(e) => {
                conn.abort().await;
                Err(failed(e))
            }
        }
    }
}

fn failed(e: lettre::transport::smtp::Error) -> SendError {
    SendError {
        permanent: e.is_permanent(),
        message: format!("SMTP: {}", describe(&e)),
    }
}

/// lettre's message with its causes, e.g. "Connection refused".
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn read_password(path: &str) -> Result<String, SetupError> {
    let err = |source| SetupError::PasswordFile {
        path: path.to_owned(),
        source,
    };
    if path.is_empty() {
        return Err(err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "mail.smtp_username is set: name the file holding its password",
        )));
    }
    let text = std::fs::read_to_string(path).map_err(err)?;
    // A trailing newline from an editor is not part of the password.
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

fn tls_parameters(cfg: &MailConfig) -> Result<TlsParameters, SetupError> {
    let host = cfg.smtp_host.clone();
    let mut builder = TlsParameters::builder(host.clone());
    if !cfg.smtp_ca_file.is_empty() {
        let ca = |detail: String| SetupError::CaFile {
            path: cfg.smtp_ca_file.clone(),
            detail,
        };
        let pem = std::fs::read(&cfg.smtp_ca_file).map_err(|e| ca(e.to_string()))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(ca("no PEM certificate in it".into()));
        }
        let cert = Certificate::from_pem(&pem).map_err(|e| ca(e.to_string()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(|e| SetupError::Tls {
        host,
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> MailConfig {
        MailConfig {
            transport: crate::config::MailTransport::Smtp,
            smtp_host: "relay.example".into(),
            ..MailConfig::default()
        }
    }

    #[test]
    fn r12_2_bad_password_and_ca_files_are_named_at_start() {
        crate::tls::install_default_provider();
        let dir = tempfile::tempdir().unwrap();
        let mut c = cfg();
        c.smtp_username = "bw".into();
        c.smtp_password_file = dir.path().join("missing").display().to_string();
        let e = Smtp::from_config(&c).err().unwrap().to_string();
        assert!(e.contains("mail.smtp_password_file"), "{e}");

        let mut c = cfg();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        c.smtp_ca_file = ca.display().to_string();
        let e = Smtp::from_config(&c).err().unwrap().to_string();
        assert!(e.contains("mail.smtp_ca_file"), "{e}");

        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\n").unwrap();
        assert_eq!(read_password(&pw.display().to_string()).unwrap(), "s3cret");
        assert!(Smtp::from_config(&cfg()).is_ok());
    }
}
