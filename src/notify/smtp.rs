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
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncTransport, Tokio1Executor};

use super::message::Outgoing;
use super::{SendError, SetupError};
use crate::config::{MailConfig, SmtpSecurity};

/// How long one conversation with the relay may take.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Smtp {
    /// Reads the password and CA files now, so that a mistake in them stops
    /// the daemon at start with the key named, not at the first email.
    pub fn from_config(cfg: &MailConfig) -> Result<Smtp, SetupError> {
        let host = cfg.smtp_host.clone();
        let tls = match cfg.smtp_security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::Starttls => Tls::Required(tls_parameters(cfg)?),
            SmtpSecurity::Implicit => Tls::Wrapper(tls_parameters(cfg)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(cfg.smtp_port)
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if !cfg.smtp_username.is_empty() {
            let password = read_password(&cfg.smtp_password_file)?;
            builder = builder.credentials(Credentials::new(cfg.smtp_username.clone(), password));
        }
        Ok(Smtp {
            transport: builder.build(),
        })
    }

    pub async fn send(&self, out: &Outgoing) -> Result<(), SendError> {
        match self.transport.send(out.message.clone()).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendError {
                permanent: e.is_permanent(),
                message: format!("SMTP: {}", describe(&e)),
            }),
        }
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
