//! RFC 5322 messages: headers, a stable `Message-ID`, and the bytes both
//! transports hand over.
//!
//! The one thing to know: a message's `Message-ID` and `Date` depend only on
//! what is stored (the outbox sequence number, the subscription's creation
//! time, the first try's time), never on when it is built, so a message sent
//! again after a crash is recognisably the same one. The MIME boundary is
//! derived from the content for the same reason (lettre's is random).
//!
//! Every message is `multipart/alternative`: the plain text first (readers
//! that show one part show that), then the HTML made from it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};

use super::SendError;
use super::templates::Rendered;
use crate::domain::{State, Timestamp};

/// A built message and what names it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub seq: u64,
    /// Without the angle brackets.
    pub message_id: String,
    pub message: Message,
}

/// 16 hex digits naming the subscription: from its creation time, which
/// never changes, so every `Message-ID` of one appliance shares it and two
/// appliances' differ.
pub fn subscription_tag(state: &State) -> String {
    let created = state
        .subscription
        .as_ref()
        .map_or(0, |s| s.created_at.unix_micros());
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("bailiwick-subscription:{created}").as_bytes(),
    );
    crate::ids::hex(&digest.as_ref()[..8])
}

/// `<seq>.<tag>@<domain>`: the same for every try of one outbox entry.
pub fn message_id(seq: u64, tag: &str, domain: &str) -> String {
    format!("{seq}.{tag}@{domain}")
}

/// The domain of the `mail.from` address, for `Message-ID`s.
pub fn domain_of(from: &str) -> &str {
    from.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
        .filter(|d| !d.is_empty())
        .unwrap_or("bailiwick.invalid")
}

fn system_time(t: Timestamp) -> SystemTime {
    let us = u64::try_from(t.unix_micros()).unwrap_or(0);
    UNIX_EPOCH + Duration::from_micros(us)
}

/// The longest line RFC 5322 allows, without its CRLF.
const MAX_LINE: usize = 998;

/// Plain ASCII text goes as `7bit`, so a one-time link stays whole and
/// readable in the `.eml` file; lettre alone would quote-print any line
/// over 76 characters, and every link is longer. Anything else (non-ASCII
/// text, overlong lines, stray CRs) is left to lettre's choice.
fn body(text: &str) -> Body {
    let unix = text.replace("\r\n", "\n");
    let plain = unix.is_ascii()
        && !unix.contains(['\r', '\0'])
        && unix.lines().all(|l| l.len() <= MAX_LINE);
    if plain {
        Body::dangerous_pre_encoded(
            unix.replace('\n', "\r\n").into_bytes(),
            ContentTransferEncoding::SevenBit,
        )
    } else {
        Body::new(text.to_owned())
    }
}

/// A MIME boundary that is the same for the same message and content, and
/// occurs in neither part: a body cannot end a part early by quoting it.
fn boundary(message_id: &str, rendered: &Rendered) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for piece in [message_id, &rendered.text, &rendered.html] {
        ctx.update(&(piece.len() as u64).to_le_bytes());
        ctx.update(piece.as_bytes());
    }
    // "=_" cannot occur in quoted-printable or base64 output.
    let base = format!("=_bw_{}", crate::ids::hex(&ctx.finish().as_ref()[..12]));
    let mut b = base.clone();
    let mut n = 0u32;
    while rendered.text.contains(&b) || rendered.html.contains(&b) {
        n += 1;
        b = format!("{base}_{n}");
    }
    b
}

/// Builds the message. A recipient address the builder refuses is a
/// permanent failure: trying again would not change it.
pub fn build(
    seq: u64,
    message_id: String,
    from: &Mailbox,
    rendered: &Rendered,
    date: Timestamp,
) -> Result<Outgoing, SendError> {
    let address = rendered.to_email.parse().map_err(|e| {
        SendError::permanent(format!(
            "recipient address {:?} is not usable: {e}",
            rendered.to_email
        ))
    })?;
    let name = (!rendered.to_name.is_empty()).then(|| rendered.to_name.clone());
    let parts = MultiPart::alternative()
        .boundary(boundary(&message_id, rendered))
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(body(&rendered.text)),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(body(&rendered.html)),
        );
    let message = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(name, address))
        .subject(rendered.subject.clone())
        .date(system_time(date))
        .message_id(Some(format!("<{message_id}>")))
        .multipart(parts)
        .map_err(|e| SendError::permanent(format!("the message cannot be built: {e}")))?;
    Ok(Outgoing {
        seq,
        message_id,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// An address the domain accepts when a user is created is one the
        /// mail builder accepts when it is sent: one rule, so no email is
        /// given up on for an address that was allowed in.
        #[test]
        fn every_address_the_domain_accepts_can_be_sent_to(
            candidate in "[!-~]{1,24}@[a-zA-Z0-9-]{1,12}(\\.[a-zA-Z0-9-]{1,12}){0,3}",
            noise in "[ -~]{0,40}",
        ) {
            for s in [candidate.as_str(), noise.as_str()] {
                if crate::domain::validate::email("email", s).is_ok() {
                    prop_assert!(
                        s.parse::<lettre::Address>().is_ok(),
                        "the domain accepts {:?} but it cannot be sent to", s
                    );
                }
            }
        }
    }

    fn rendered() -> Rendered {
        Rendered {
            to_name: "Sam Scan".into(),
            to_email: "sam@example.org".into(),
            subject: "Hello".into(),
            text: "Line one\nLine two\n".into(),
            html: "<p>Line one<br>\nLine two</p>\n".into(),
        }
    }

    #[test]
    fn r12_1_message_id_and_date_are_stable_across_tries() {
        let from: Mailbox = "bailiwick@example.org".parse().unwrap();
        let id = message_id(12, "00aa11bb22cc33dd", domain_of("bailiwick@example.org"));
        assert_eq!(id, "12.00aa11bb22cc33dd@example.org");
        let at = Timestamp::from_unix_micros(1_800_000_000_000_000);
        let a = build(12, id.clone(), &from, &rendered(), at).unwrap();
        let b = build(12, id, &from, &rendered(), at).unwrap();
        assert_eq!(a.message.formatted(), b.message.formatted());
        let text = String::from_utf8(a.message.formatted()).unwrap();
        assert!(
            text.contains("Message-ID: <12.00aa11bb22cc33dd@example.org>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"),
            "{text}"
        );
        assert!(
            text.contains("To: \"Sam Scan\" <sam@example.org>\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\n\r\nLine one\r\nLine two\r\n"), "{text}");
        assert!(text.contains("MIME-Version: 1.0\r\n"), "{text}");
        assert!(
            text.contains("Content-Transfer-Encoding: 7bit\r\n"),
            "{text}"
        );
    }

    #[test]
    fn r12_1_plain_text_comes_first_then_html() {
        let from: Mailbox = "bailiwick@example.org".parse().unwrap();
        let m = build(
            3,
            "3.x@example.org".into(),
            &from,
            &rendered(),
            Timestamp::default(),
        )
        .unwrap();
        let text = String::from_utf8(m.message.formatted()).unwrap();
        assert!(text.contains("MIME-Version: 1.0\r\n"), "{text}");
        let b = boundary("3.x@example.org", &rendered());
        assert!(
            text.contains("Content-Type: multipart/alternative;"),
            "{text}"
        );
        assert!(text.contains(&format!("boundary=\"{b}\"")), "{text}");
        let plain = text.find("Content-Type: text/plain").expect("a text part");
        let html = text.find("Content-Type: text/html").expect("an HTML part");
        assert!(plain < html, "plain text first: {text}");
        assert_eq!(text.matches(&format!("--{b}\r\n")).count(), 2, "{text}");
        assert!(text.ends_with(&format!("--{b}--\r\n")), "{text}");
    }

    #[test]
    fn r13_header_injection_and_bad_addresses_are_refused_or_encoded() {
        let from: Mailbox = "bailiwick@example.org".parse().unwrap();
        let mut r = rendered();
        r.subject = "Hi\r\nBcc: victim@example.org".into();
        let m = build(1, "1.x@example.org".into(), &from, &r, Timestamp::default()).unwrap();
        let text = String::from_utf8(m.message.formatted()).unwrap();
        assert!(!text.contains("\r\nBcc: victim"), "{text}");
        r.to_email = "not an address".into();
        let e = build(1, "1.x@example.org".into(), &from, &r, Timestamp::default()).unwrap_err();
        assert!(e.permanent);
    }

    #[test]
    fn r12_2_links_stay_whole_and_other_text_is_encoded() {
        let link = format!("https://bw.example:8443/ui/activation/{}", "x".repeat(43));
        let b = body(&format!("Open:\n\n{link}\n"));
        assert_eq!(b.encoding(), ContentTransferEncoding::SevenBit);
        assert_eq!(
            String::from_utf8(b.into_vec()).unwrap(),
            format!("Open:\r\n\r\n{link}\r\n")
        );
        assert_ne!(
            body("Grüße\n").encoding(),
            ContentTransferEncoding::SevenBit
        );
        let long = "y".repeat(MAX_LINE + 1);
        assert_ne!(body(&long).encoding(), ContentTransferEncoding::SevenBit);
    }

    #[test]
    fn subscription_tags_differ_by_creation_time() {
        let mut s = State::default();
        let a = subscription_tag(&s);
        s.subscription = Some(crate::domain::Subscription {
            name: "x".into(),
            service_type: crate::domain::ServiceType::Enterprise,
            modules: Default::default(),
            features: Default::default(),
            primary_contact: None,
            created_at: Timestamp::from_unix_micros(1),
        });
        let b = subscription_tag(&s);
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
    }
}
