//! The emails (R4.5, R7.1, R7.2, R8.2, R10.2), rendered from the state at
//! delivery time: plain text, and an HTML alternative made from that text.
//!
//! The one thing to know: which contact an email names is a rule, not a
//! matter of wording. Registration, new-credential and lock emails name the
//! primary contact of the user's unit, or the subscription's for Unassigned
//! users (`contacts::contact_for`, R4.5); notifications name the Email
//! Contact (`settings::notification_contact_for`, R10.2). No email ever
//! carries a password: only a one-time link.
//!
//! The HTML part is the plain text, escaped whole ([`html::escape`]), so
//! names, subjects and bodies given by users can never become markup; only
//! the one-time link, which this module builds, becomes an anchor.

use crate::domain::access::{name_of, unit_name};
use crate::domain::contacts::contact_for;
use crate::domain::notice::{LockCounter, MailTo, Notice, NoticeKind};
use crate::domain::settings::notification_contact_for;
use crate::domain::{EmailContact, Role, State, User, UserStatus};

pub mod html;

/// An email ready to be wrapped in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub to_name: String,
    pub to_email: String,
    pub subject: String,
    pub text: String,
    /// The same content as HTML, every piece of text escaped.
    pub html: String,
}

/// What becomes of an outbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Render {
    Send(Rendered),
    /// Not to be sent, and not a failure: says why.
    Discard(String),
}

/// The entry cannot be rendered: it is failed, not retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("a {0} email without its one-time link")]
    MissingLink(&'static str),
    #[error("a {0} email goes to users only, not to a plain address")]
    NotForAddress(&'static str),
}

/// Renders `notice` against `state`; `public_url` is the base of links.
pub fn render(state: &State, notice: &Notice, public_url: &str) -> Result<Render, RenderError> {
    match &notice.to {
        MailTo::User(id) => render_for_user(state, notice, id, public_url),
        MailTo::Address(address) => render_for_address(state, notice, address),
    }
}

/// R7.3, R12.1: a plain address that is the address of a deactivated user
/// (a Contact, typically) and of no other user gets nothing: deactivating
/// someone stops their notifications, however they were addressed.
pub fn address_withdrawn(state: &State, address: &str) -> bool {
    let mut deactivated = false;
    for u in state.users.values() {
        if u.email.eq_ignore_ascii_case(address) {
            if u.status != UserStatus::Deactivated {
                return false;
            }
            deactivated = true;
        }
    }
    deactivated
}

/// R10.2 for a recipient that is no user, so has no unit: the
/// subscription's Email Contact, else its primary contact. The same answer
/// `notification_contact_for` gives an Unassigned user (a test holds them
/// together).
pub fn address_contact(state: &State) -> Option<EmailContact> {
    state.settings.email_contact.clone().or_else(|| {
        state
            .subscription
            .as_ref()
            .and_then(|s| s.primary_contact.as_ref())
            .and_then(|id| state.users.get(id))
            .map(|u| EmailContact {
                name: name_of(u),
                email: u.email.clone(),
            })
    })
}

fn render_for_address(
    state: &State,
    notice: &Notice,
    address: &str,
) -> Result<Render, RenderError> {
    let NoticeKind::Notification { subject, body } = &notice.kind else {
        return Err(RenderError::NotForAddress(notice.kind.as_str()));
    };
    if address_withdrawn(state, address) {
        return Ok(Render::Discard(
            "the address belongs to a deactivated user".into(),
        ));
    }
    let subscription = state.subscription.as_ref().map_or("", |s| s.name.as_str());
    let text = notification_text(subscription, address_contact(state).as_ref(), body);
    Ok(Render::Send(Rendered {
        to_name: String::new(),
        to_email: address.to_owned(),
        html: html::document(subject, &text, &[]),
        subject: subject.clone(),
        text,
    }))
}

fn render_for_user(
    state: &State,
    notice: &Notice,
    user_id: &str,
    public_url: &str,
) -> Result<Render, RenderError> {
    let Some(user) = state.users.get(user_id) else {
        return Ok(Render::Discard("the recipient no longer exists".into()));
    };
    // R7.3: deactivated users, Contacts included, receive nothing.
    if user.status == UserStatus::Deactivated {
        return Ok(Render::Discard("the recipient is deactivated".into()));
    }
    let subscription = state.subscription.as_ref().map_or("", |s| s.name.as_str());
    let credential_mail = !matches!(notice.kind, NoticeKind::Notification { .. });
    if credential_mail && user.role == Role::Contact {
        return Ok(Render::Discard(
            "Contacts have no credentials (R2.5)".into(),
        ));
    }
    let mut links = Vec::new();
    let (subject, text) = match &notice.kind {
        NoticeKind::Registration | NoticeKind::NewCredentials => {
            let kind = notice.kind.as_str();
            let token = notice
                .link_token
                .as_deref()
                .ok_or(RenderError::MissingLink(kind))?;
            let link = match live_link(state, token) {
                Ok(l) => l,
                Err(why) => return Ok(Render::Discard(why)),
            };
            let url = crate::ids::activation_link(public_url, token);
            let mail = if notice.kind == NoticeKind::Registration {
                registration(state, user, subscription, &url, &link)
            } else {
                new_credentials(state, user, subscription, &url, &link)
            };
            links.push(url);
            mail
        }
        NoticeKind::AccountLocked => locked(state, user, subscription),
        NoticeKind::AccountLockedBy { counter } => locked_by(state, user, subscription, *counter),
        NoticeKind::SecretQuestionsChanged => questions_changed(state, user, subscription),
        NoticeKind::PasswordSelfReset => self_reset_done(state, user, subscription),
        NoticeKind::EmailChanged { .. } => email_changed(state, user, subscription),
        NoticeKind::Notification { subject, body } => {
            notification(state, user, subscription, subject, body)
        }
    };
    // R7.2: an email change is told to the address it replaced.
    let to_email = match &notice.kind {
        NoticeKind::EmailChanged { old } => old.clone(),
        _ => user.email.clone(),
    };
    Ok(Render::Send(Rendered {
        to_name: full_name(user).unwrap_or_default(),
        to_email,
        html: html::document(&subject, &text, &links),
        subject,
        text,
    }))
}

/// When the link stops working, or why it is no use sending it any more.
fn live_link(state: &State, token: &str) -> Result<String, String> {
    let hash = crate::ids::token_hash(token);
    match state.activation_links.get(&hash) {
        None => Err("its one-time link was replaced by a newer one".into()),
        Some(l) if l.used => Err("its one-time link was already used".into()),
        Some(l) => Ok(l.expires_at.to_rfc3339()),
    }
}

fn full_name(u: &User) -> Option<String> {
    let n = format!("{} {}", u.first_name.trim(), u.last_name.trim());
    let n = n.trim();
    (!n.is_empty()).then(|| n.to_owned())
}

fn greeting(u: &User) -> String {
    format!("Hello {},", full_name(u).unwrap_or_else(|| u.login.clone()))
}

/// R4.5: "Jane Doe <jane@example.org>", the primary contact of the user's
/// unit or of the subscription.
fn primary_contact(state: &State, user: &User) -> String {
    match contact_for(state, user) {
        Some(c) => format!(
            "{} <{}>",
            full_name(c).unwrap_or_else(|| c.login.clone()),
            c.email
        ),
        None => "your administrator".into(),
    }
}

const FOOTER: &str = "This message was sent automatically by bailiwick. \
No password is ever sent by email: only one-time links.";

fn registration(
    state: &State,
    user: &User,
    subscription: &str,
    url: &str,
    expires: &str,
) -> (String, String) {
    let action = if state.settings.security.user_defined_passwords {
        "choose your password"
    } else {
        "see your password"
    };
    let subject = format!("Your new account in {subscription}");
    let text = format!(
        "{greeting}\n\
         \n\
         An account was created for you in the subscription \"{subscription}\".\n\
         \n\
         Login:         {login}\n\
         Role:          {role}\n\
         Business unit: {unit}\n\
         \n\
         Open this one-time link to {action}. It works once, until {expires}:\n\
         \n\
         {url}\n\
         \n\
         Your primary contact: {poc}\n\
         \n\
         {FOOTER}\n",
        greeting = greeting(user),
        login = user.login,
        role = Role::title(user.role),
        unit = unit_name(state, user.business_unit.as_ref()),
        poc = primary_contact(state, user),
    );
    (subject, text)
}

fn new_credentials(
    state: &State,
    user: &User,
    subscription: &str,
    url: &str,
    expires: &str,
) -> (String, String) {
    let action = if state.settings.security.user_defined_passwords {
        "choose a new password"
    } else {
        "see your new password"
    };
    let subject = format!("New credentials for your account in {subscription}");
    let text = format!(
        "{greeting}\n\
         \n\
         New credentials were issued for your account {login} in the subscription\n\
         \"{subscription}\". Your previous password no longer works and your sessions\n\
         were signed out.\n\
         \n\
         Open this one-time link to {action}. It works once, until {expires}:\n\
         \n\
         {url}\n\
         \n\
         If you did not expect this, tell your primary contact: {poc}\n\
         \n\
         {FOOTER}\n",
        greeting = greeting(user),
        login = user.login,
        poc = primary_contact(state, user),
    );
    (subject, text)
}

fn locked(state: &State, user: &User, subscription: &str) -> (String, String) {
    let subject = format!("Your account in {subscription} is locked");
    let text = format!(
        "{greeting}\n\
         \n\
         Your account {login} in the subscription \"{subscription}\" was locked after\n\
         too many failed login attempts.\n\
         \n\
         To unlock it, ask your primary contact: {poc}\n\
         A Manager can reactivate the account, or reset its password.\n\
         If these attempts were not yours, say so: someone may be guessing your password.\n\
         \n\
         {FOOTER}\n",
        greeting = greeting(user),
        login = user.login,
        poc = primary_contact(state, user),
    );
    (subject, text)
}

fn locked_by(
    state: &State,
    user: &User,
    subscription: &str,
    counter: LockCounter,
) -> (String, String) {
    let subject = format!("Your account in {subscription} is locked");
    let what = match counter {
        LockCounter::SecretAnswers => "Self-service password reset for your account",
        _ => "Your account",
    };
    let text = format!(
        "{greeting}\n\
         \n\
         {what} {login} in the subscription \"{subscription}\" was locked after\n\
         too many failed attempts {from}.\n\
         Now {refuses}.\n\
         \n\
         To unlock it, ask your primary contact: {poc}\n\
         A Manager can reactivate the account, or reset its password.\n\
         If these attempts were not yours, say so: someone may be guessing your password.\n\
         \n\
         {FOOTER}\n",
        greeting = greeting(user),
        login = user.login,
        from = counter.from_where(),
        refuses = counter.refuses(),
        poc = primary_contact(state, user),
    );
    (subject, text)
}

/// A change to the account that whoever holds a session could make: the
/// owner is told, with whom to ask if it was not them.
fn account_changed(
    state: &State,
    user: &User,
    subscription: &str,
    subject: &str,
    what: &str,
) -> (String, String) {
    let subject = format!("{subject} in {subscription}");
    let text = format!(
        "{greeting}\n\
         \n\
         {what} for your account {login} in the subscription \"{subscription}\".\n\
         \n\
         If this was not you, tell your primary contact at once: {poc}\n\
         \n\
         {FOOTER}\n",
        greeting = greeting(user),
        login = user.login,
        poc = primary_contact(state, user),
    );
    (subject, text)
}

fn questions_changed(state: &State, user: &User, subscription: &str) -> (String, String) {
    account_changed(
        state,
        user,
        subscription,
        "Your secret questions were changed",
        "The secret questions for self-service password reset were changed",
    )
}

fn self_reset_done(state: &State, user: &User, subscription: &str) -> (String, String) {
    account_changed(
        state,
        user,
        subscription,
        "Your password was reset",
        "The password was reset with the secret questions, and every session was signed out,",
    )
}

fn email_changed(state: &State, user: &User, subscription: &str) -> (String, String) {
    account_changed(
        state,
        user,
        subscription,
        "Your email address was changed",
        &format!(
            "The email address was changed from this address to {}",
            user.email
        ),
    )
}

fn notification(
    state: &State,
    user: &User,
    subscription: &str,
    subject: &str,
    body: &str,
) -> (String, String) {
    let contact = notification_contact_for(state, user);
    (
        subject.to_owned(),
        notification_text(subscription, contact.as_ref(), body),
    )
}

/// A notification's text, the same for a user and a plain address.
fn notification_text(subscription: &str, contact: Option<&EmailContact>, body: &str) -> String {
    let contact = match contact {
        Some(c) => format!("{} <{}>", c.name, c.email),
        None => "your administrator".into(),
    };
    format!(
        "{body}\n\
         \n\
         -- \n\
         Subscription \"{subscription}\". Email Contact: {contact}\n",
        body = body.trim_end(),
    )
}

#[cfg(test)]
#[path = "templates_tests.rs"]
mod tests;
