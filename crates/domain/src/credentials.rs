//! Credentials as rules (R7.1, R7.2, R8.2, R8.5–R8.8): what a login attempt,
//! an activation, a reset or a password change does to the stored state.
//! Hashing and token making happen outside (in `auth`); these commands get
//! the results and decide.

use super::{
    ActivationLink, Code, Credentials, Feature, Id, Refusal, Role, Session, State, Timestamp, Tx,
    User, UserStatus,
};

pub use super::notice::{Notice, NoticeKind};

/// Why a login is not let in. Callers answer all of them with the same 401
/// (R8.4); the kind goes to the activity log only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    UnknownLogin,
    WrongPassword,
    Locked,
    Deactivated,
    NotActivated,
    Contact,
}

impl Denied {
    pub fn as_str(self) -> &'static str {
        match self {
            Denied::UnknownLogin => "unknown login",
            Denied::WrongPassword => "wrong password",
            Denied::Locked => "account locked",
            Denied::Deactivated => "account deactivated",
            Denied::NotActivated => "account not activated",
            Denied::Contact => "contacts cannot log in",
        }
    }
}

/// The stored credentials of `user`, or empty ones.
fn creds_of(tx: &Tx<'_>, user: &Id) -> Credentials {
    tx.state()
        .credentials
        .get(user)
        .cloned()
        .unwrap_or_default()
}

/// The login of `user`, for activity entries.
fn login_of(tx: &Tx<'_>, user: &Id) -> String {
    tx.state()
        .users
        .get(user)
        .map(|u| u.login.clone())
        .unwrap_or_default()
}

/// Whether `user` may log in at all, before its password is looked at.
pub fn login_barrier(state: &State, user: &User) -> Option<Denied> {
    let creds = state.credentials.get(&user.id);
    if user.role == Role::Contact {
        return Some(Denied::Contact);
    }
    if user.status == UserStatus::Deactivated {
        return Some(Denied::Deactivated);
    }
    if creds.is_some_and(|c| c.locked) {
        return Some(Denied::Locked);
    }
    if creds.and_then(|c| c.password_hash.as_ref()).is_none() {
        return Some(Denied::NotActivated);
    }
    None
}

/// Whether the password of `user` has expired (R8.5, R8.6).
pub fn password_expired(state: &State, user: &User, now: Timestamp) -> bool {
    let days = state.settings.security.password_expiration_days;
    if days == 0 {
        return false;
    }
    let api_never = state
        .subscription
        .as_ref()
        .is_some_and(|s| s.has(Feature::ApiPasswordNeverExpires));
    if api_never && user.access == super::Access::ApiOnly {
        return false;
    }
    let Some(changed) = state
        .credentials
        .get(&user.id)
        .and_then(|c| c.password_changed_at)
    else {
        return false;
    };
    now >= changed.saturating_add(std::time::Duration::from_secs(u64::from(days) * 86400))
}

/// Counts a failed attempt for a known user (R8.2); at the threshold the
/// account locks, which is logged and mailed. Returns whether it locked now.
pub fn record_failure(tx: &mut Tx<'_>, user_id: &Id, why: Denied, api: bool) -> bool {
    let threshold = tx.state().settings.security.lockout_threshold.max(1);
    let mut creds = creds_of(tx, user_id);
    let login = login_of(tx, user_id);
    let channel = if api { "API" } else { "UI" };
    tx.log(
        "login.failed",
        format!("user {login}"),
        format!("{channel}: {}", why.as_str()),
    );
    if creds.locked || why != Denied::WrongPassword {
        return false;
    }
    creds.failed_attempts = creds.failed_attempts.saturating_add(1);
    let locks = creds.failed_attempts >= threshold;
    if locks {
        creds.locked = true;
        tx.log(
            "user.lock",
            format!("user {login}"),
            format!("locked after {} failed attempts", creds.failed_attempts),
        );
        tx.queue_notice(Notice::to_user(
            NoticeKind::AccountLocked,
            user_id.clone(),
            None,
        ));
    }
    tx.put_credentials(user_id, creds);
    locks
}

/// A failed attempt for a login that does not exist: logged only.
pub fn record_unknown_login(tx: &mut Tx<'_>, login: &str, api: bool) {
    let shown: String = login.chars().filter(|c| !c.is_control()).take(64).collect();
    let channel = if api { "API" } else { "UI" };
    tx.log(
        "login.failed",
        format!("login {shown}"),
        format!("{channel}: {}", Denied::UnknownLogin.as_str()),
    );
}

/// A successful login: counters cleared, first login activates (R7.1), a
/// rehash stored when parameters changed, the session stored.
pub fn record_success(
    tx: &mut Tx<'_>,
    user_id: &Id,
    rehash: Option<String>,
    session: Option<Session>,
    api: bool,
) -> Result<User, Refusal> {
    let state = tx.state();
    let mut user = state
        .users
        .get(user_id)
        .cloned()
        .ok_or_else(|| Refusal::new(Code::Unauthenticated, "login failed"))?;
    // Re-checked here: the state may have changed while the hash was computed.
    if let Some(why) = login_barrier(state, &user) {
        return Err(Refusal::new(Code::Unauthenticated, why.as_str()));
    }
    let mut creds = state.credentials.get(user_id).cloned().unwrap_or_default();
    let now = tx.now();
    if creds.failed_attempts != 0 || rehash.is_some() {
        creds.failed_attempts = 0;
        if let Some(h) = rehash {
            creds.password_hash = Some(h);
        }
        tx.put_credentials(user_id, creds);
    }
    if user.status == UserStatus::PendingActivation {
        user.status = UserStatus::Active;
    }
    user.last_login_at = Some(now);
    tx.put_user(user.clone());
    if let Some(s) = session {
        tx.put_session(s);
    }
    let channel = if api { "API" } else { "UI" };
    tx.log("login", format!("user {}", user.login), channel);
    Ok(user)
}

/// What a valid activation link leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    /// The link revealed a generated password (now stored as `hash`).
    Revealed { login: String },
    /// User-defined passwords: the link is still valid for setting one.
    ChooseOwn { login: String },
}

/// The link `token_hash` if it can still be used: `not_found` for an
/// unknown one, `gone` for a used or expired one.
pub fn live_link(
    state: &State,
    token_hash: &str,
    now: Timestamp,
) -> Result<ActivationLink, Refusal> {
    let link = state
        .activation_links
        .get(token_hash)
        .cloned()
        .ok_or_else(|| Refusal::new(Code::NotFound, "no such activation link"))?;
    if link.used {
        return Err(Refusal::new(
            Code::Gone,
            "this link was already used; ask an administrator for a new one",
        ));
    }
    if now >= link.expires_at {
        return Err(Refusal::new(
            Code::Gone,
            "this link has expired; ask an administrator for a new one",
        ));
    }
    Ok(link)
}

/// `GET /activation/{token}`: with generated passwords, stores `hash` of the
/// password the caller will show once, and uses up the link. With
/// user-defined passwords, only names the login.
pub fn open_activation(
    tx: &mut Tx<'_>,
    token_hash: &str,
    generated_hash: String,
) -> Result<Activation, Refusal> {
    let link = live_link(tx.state(), token_hash, tx.now())?;
    let user = tx
        .state()
        .users
        .get(&link.user)
        .cloned()
        .ok_or_else(|| Refusal::new(Code::NotFound, "no such activation link"))?;
    if tx.state().settings.security.user_defined_passwords {
        return Ok(Activation::ChooseOwn { login: user.login });
    }
    set_password_from_link(tx, link, &user, generated_hash);
    Ok(Activation::Revealed { login: user.login })
}

/// `POST /activation/{token}` with user-defined passwords.
pub fn complete_activation(
    tx: &mut Tx<'_>,
    token_hash: &str,
    password: &str,
    hash: String,
) -> Result<String, Refusal> {
    let link = live_link(tx.state(), token_hash, tx.now())?;
    if !tx.state().settings.security.user_defined_passwords {
        return Err(Refusal::new(
            Code::Forbidden,
            "this subscription generates passwords; open the link with GET to see yours",
        ));
    }
    super::password::check(password, tx.state().settings.security.min_password_length)?;
    let user = tx
        .state()
        .users
        .get(&link.user)
        .cloned()
        .ok_or_else(|| Refusal::new(Code::NotFound, "no such activation link"))?;
    set_password_from_link(tx, link, &user, hash);
    Ok(user.login)
}

fn set_password_from_link(tx: &mut Tx<'_>, mut link: ActivationLink, user: &User, hash: String) {
    let mut creds = creds_of(tx, &user.id);
    creds.password_hash = Some(hash);
    creds.password_changed_at = Some(tx.now());
    creds.failed_attempts = 0;
    creds.locked = false;
    tx.put_credentials(&user.id, creds);
    link.used = true;
    tx.put_activation_link(link);
    tx.log(
        "user.activation",
        format!("user {}", user.login),
        "one-time link used",
    );
}

/// Whether `actor` may reset `target`'s password (R7.2): Managers anyone,
/// Unit Managers users of their own unit.
pub fn may_reset(actor: &User, target: &User) -> bool {
    match actor.role {
        Role::Manager => true,
        Role::UnitManager => {
            actor.business_unit.is_some()
                && actor.business_unit == target.business_unit
                && target.role != Role::Manager
        }
        _ => false,
    }
}

/// Administrator or operator reset (R7.2, R8.2): the password is cleared, a
/// new one-time link issued and mailed, the lock and count cleared, and every
/// session ended. `actor` is `None` for the operator.
pub fn reset_password(
    tx: &mut Tx<'_>,
    actor: Option<&User>,
    target_id: &Id,
    link_token: String,
    link_hash: String,
    expires_at: Timestamp,
) -> Result<User, Refusal> {
    let target = tx
        .state()
        .users
        .get(target_id)
        .cloned()
        .ok_or_else(|| Refusal::new(Code::NotFound, "no such user"))?;
    if let Some(a) = actor
        && !may_reset(a, &target)
    {
        return Err(Refusal::new(
            Code::Forbidden,
            "only Managers, or Unit Managers for users of their unit, reset passwords",
        ));
    }
    if target.role == Role::Contact {
        return Err(Refusal::new(
            Code::Conflict,
            format!("{} is a Contact and has no password", target.login),
        ));
    }
    issue_link(tx, &target, link_hash, expires_at);
    let creds = Credentials {
        password_hash: None,
        password_changed_at: None,
        failed_attempts: 0,
        locked: false,
        secret_questions: tx
            .state()
            .credentials
            .get(target_id)
            .map(|c| c.secret_questions.clone())
            .unwrap_or_default(),
    };
    tx.put_credentials(target_id, creds);
    let ended = tx.end_sessions_of(target_id, None);
    tx.queue_notice(Notice::to_user(
        NoticeKind::NewCredentials,
        target_id.clone(),
        Some(link_token),
    ));
    tx.log(
        "user.password_reset",
        format!("user {}", target.login),
        format!("new one-time link issued; lock cleared; {ended} sessions ended"),
    );
    Ok(target)
}

/// Stores a new one-time link for `user`, retiring the older ones.
pub fn issue_link(tx: &mut Tx<'_>, user: &User, link_hash: String, expires_at: Timestamp) {
    tx.remove_links_of(&user.id);
    tx.put_activation_link(ActivationLink {
        token_hash: link_hash,
        user: user.id.clone(),
        expires_at,
        used: false,
    });
}

/// Operator recovery: a new link for `login` without touching the password
/// (`ctl users activation-link`).
pub fn reissue_link(
    tx: &mut Tx<'_>,
    login: &str,
    link_hash: String,
    expires_at: Timestamp,
) -> Result<User, Refusal> {
    let user = tx
        .state()
        .user_by_login(login)
        .cloned()
        .ok_or_else(|| Refusal::new(Code::NotFound, format!("no user with login {login:?}")))?;
    if user.role == Role::Contact {
        return Err(Refusal::new(
            Code::Conflict,
            format!("{login} is a Contact and cannot log in"),
        ));
    }
    issue_link(tx, &user, link_hash, expires_at);
    tx.log(
        "user.activation_link",
        format!("user {login}"),
        "one-time link re-issued",
    );
    Ok(user)
}

/// Operator recovery: clears the lock and the count (`ctl users unlock`).
pub fn unlock(tx: &mut Tx<'_>, login: &str) -> Result<User, Refusal> {
    let user = tx
        .state()
        .user_by_login(login)
        .cloned()
        .ok_or_else(|| Refusal::new(Code::NotFound, format!("no user with login {login:?}")))?;
    let mut creds = creds_of(tx, &user.id);
    if !creds.locked && creds.failed_attempts == 0 {
        return Ok(user);
    }
    creds.locked = false;
    creds.failed_attempts = 0;
    tx.put_credentials(&user.id, creds);
    tx.log(
        "user.unlock",
        format!("user {login}"),
        "lock and failed attempts cleared",
    );
    Ok(user)
}

/// `PUT /me/password` (R8.5): the current password was verified by the
/// caller; `new` is checked against the policy. Other sessions end.
pub fn change_password(
    tx: &mut Tx<'_>,
    user_id: &Id,
    new: &str,
    new_hash: String,
    keep_session: Option<&str>,
) -> Result<(), Refusal> {
    let user = tx
        .state()
        .users
        .get(user_id)
        .cloned()
        .ok_or_else(|| Refusal::new(Code::NotFound, "no such user"))?;
    let expired = password_expired(tx.state(), &user, tx.now());
    if !tx.state().settings.security.user_defined_passwords && !expired {
        return Err(Refusal::new(
            Code::Forbidden,
            "this subscription does not let users choose passwords; ask an administrator to reset yours",
        ));
    }
    super::password::check(new, tx.state().settings.security.min_password_length)?;
    let mut creds = creds_of(tx, user_id);
    creds.password_hash = Some(new_hash);
    creds.password_changed_at = Some(tx.now());
    tx.put_credentials(user_id, creds);
    let ended = tx.end_sessions_of(user_id, keep_session);
    tx.log(
        "user.password_change",
        format!("user {}", user.login),
        format!("changed by the user; {ended} other sessions ended"),
    );
    Ok(())
}

/// `PUT /me/secret-questions` (R8.7): exactly three, answers already hashed.
pub fn set_secret_questions(
    tx: &mut Tx<'_>,
    user_id: &Id,
    questions: Vec<(String, String)>,
) -> Result<(), Refusal> {
    if questions.len() != 3 {
        return Err(Refusal::new(
            Code::Validation,
            "questions: give exactly three",
        ));
    }
    for (q, _) in &questions {
        let q = q.trim();
        if q.is_empty() || q.chars().count() > 200 {
            return Err(Refusal::new(
                Code::Validation,
                "questions: each question needs 1 to 200 characters",
            ));
        }
    }
    let mut creds = creds_of(tx, user_id);
    creds.secret_questions = questions;
    tx.put_credentials(user_id, creds);
    let login = login_of(tx, user_id);
    tx.log(
        "user.secret_questions",
        format!("user {login}"),
        "three questions set",
    );
    Ok(())
}

/// Self-service reset after three right answers (R8.7): sets the new
/// password, clears the lock, ends sessions.
pub fn self_reset(tx: &mut Tx<'_>, user_id: &Id, new: &str, hash: String) -> Result<(), Refusal> {
    super::password::check(new, tx.state().settings.security.min_password_length)?;
    let mut creds = creds_of(tx, user_id);
    creds.password_hash = Some(hash);
    creds.password_changed_at = Some(tx.now());
    creds.failed_attempts = 0;
    creds.locked = false;
    tx.put_credentials(user_id, creds);
    tx.end_sessions_of(user_id, None);
    let login = login_of(tx, user_id);
    tx.log(
        "user.password_self_reset",
        format!("user {login}"),
        "after three right answers",
    );
    Ok(())
}
