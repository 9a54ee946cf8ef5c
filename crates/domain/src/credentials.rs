//! Credentials as rules (R7.1, R7.2, R8.2, R8.5–R8.8): what a login attempt,
//! an activation, a reset or a password change does to the stored state.
//! Hashing and token making happen outside (in `auth`); these commands get
//! the results and decide.

use std::net::IpAddr;
use std::time::Duration;

use super::{
    ActivationLink, Code, Credentials, FamiliarAddress, Feature, Id, MAX_FAMILIAR, Refusal, Role,
    Session, State, Timestamp, Tx, User, UserStatus,
};
use crate::LogAction;

pub use super::notice::{LockCounter, Notice, NoticeKind};

/// An address is familiar to a user this long after its last successful
/// login from there (R8.2).
pub const FAMILIAR_FOR: Duration = Duration::from_secs(30 * 86400);

/// A new email address must be this old before anyone but a Manager or the
/// operator sends a reset link to it (R7.2).
pub const EMAIL_SETTLES_AFTER: Duration = Duration::from_secs(86400);

/// Whether `ip` had a successful login of the user within `within` of `now`.
pub fn is_familiar(
    creds: &Credentials,
    ip: Option<IpAddr>,
    now: Timestamp,
    within: Duration,
) -> bool {
    let Some(ip) = ip else { return false };
    let net = FamiliarAddress::net_of(ip);
    creds
        .familiar
        .iter()
        .any(|f| f.net == net && now < f.last_success.saturating_add(within))
}

/// The counter an attempt from `ip` counts against (R8.2).
pub fn counter_for(
    creds: &Credentials,
    ip: Option<IpAddr>,
    now: Timestamp,
    smart: bool,
) -> LockCounter {
    if !smart {
        LockCounter::All
    } else if is_familiar(creds, ip, now, FAMILIAR_FOR) {
        LockCounter::Familiar
    } else {
        LockCounter::Unfamiliar
    }
}

/// Whether a lock refuses an attempt from `ip`: a familiar lock refuses
/// every address, an unfamiliar one only unfamiliar addresses (R8.2).
/// Without smart lockout any lock refuses everyone.
pub fn locked_for(creds: &Credentials, ip: Option<IpAddr>, now: Timestamp, smart: bool) -> bool {
    if creds.locked {
        return true;
    }
    creds.locked_unfamiliar && counter_for(creds, ip, now, smart) != LockCounter::Familiar
}

/// Why a login is not let in. Callers answer all of them with the same 401
/// (R8.4); the kind goes to the activity log only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No user has that login.
    UnknownLogin,
    /// The login exists and the password is wrong: the only kind that counts
    /// towards a lock (R8.2).
    WrongPassword,
    /// A lock refuses the attempt (R8.2), whatever the password.
    Locked,
    /// Deactivated users cannot sign in (R7.3).
    Deactivated,
    /// No password yet: a pending user's one-time link sets one (R7.1).
    NotActivated,
    /// Contacts never sign in (R2.5).
    Contact,
}

impl Denied {
    /// The reason in words, for the activity log (R11.1); the client is
    /// answered the same whatever it is (R8.4).
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
pub(crate) fn creds_of(tx: &Tx<'_>, user: &Id) -> Credentials {
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

/// [`login_barrier`] for an attempt from `ip`: also refused when a lock of
/// unfamiliar addresses holds and `ip` is not familiar (R8.2).
pub fn login_barrier_from(
    state: &State,
    user: &User,
    ip: Option<IpAddr>,
    now: Timestamp,
    smart: bool,
) -> Option<Denied> {
    let barrier = login_barrier(state, user);
    if barrier.is_some() {
        return barrier;
    }
    match state.credentials.get(&user.id) {
        Some(c) if locked_for(c, ip, now, smart) => Some(Denied::Locked),
        _ => None,
    }
}

/// R8.1: an `api_only` account reaches the API (session tokens, HTTP Basic)
/// and never the console. Asked only once the password is verified, so it
/// tells nothing to someone who does not hold it.
pub fn may_use_console(user: &User) -> Result<(), Refusal> {
    if user.access == super::Access::ApiOnly {
        return Err(Refusal::new(
            Code::Forbidden,
            "this account is for API access only; a Manager can give it console access (access: ui_and_api)",
        ));
    }
    Ok(())
}

/// Whether the password of `user` has expired (R8.5, R8.6).
pub fn password_expired(state: &State, user: &User, now: Timestamp) -> bool {
    let days = state.settings.security.password_expiration_days;
    if days == 0 {
        return false;
    }
    let Some(creds) = state.credentials.get(&user.id) else {
        return false;
    };
    if never_expires(state, user, creds) {
        return false;
    }
    let Some(changed) = creds.password_changed_at else {
        return false;
    };
    now >= changed.saturating_add(std::time::Duration::from_secs(u64::from(days) * 86400))
}

/// R8.6, as a user view shows it: the flag is set and counts.
pub fn password_never_expires(state: &State, user: &User) -> bool {
    state
        .credentials
        .get(&user.id)
        .is_some_and(|c| never_expires(state, user, c))
}

/// R8.6: the flag counts only while the feature is on and the account is
/// API-only; a Manager set it, and the next password change cleared it.
fn never_expires(state: &State, user: &User, creds: &Credentials) -> bool {
    creds.password_never_expires
        && user.access == super::Access::ApiOnly
        && state
            .subscription
            .as_ref()
            .is_some_and(|s| s.has(Feature::ApiPasswordNeverExpires))
}

/// Counts a failed attempt for a known user (R8.2) against the counter of
/// the actor's address; at the threshold that counter locks, which is logged
/// and mailed. A lock that refuses familiar addresses also ends the user's
/// sessions; one from unfamiliar addresses does not, or anyone could sign
/// anyone out. Returns whether it locked now.
pub fn record_failure(tx: &mut Tx<'_>, user_id: &Id, why: Denied, api: bool, smart: bool) -> bool {
    let threshold = tx.state().settings.security.lockout_threshold.max(1);
    let mut creds = creds_of(tx, user_id);
    let login = login_of(tx, user_id);
    let channel = if api { "API" } else { "UI" };
    let counter = counter_for(&creds, tx.actor().ip, tx.now(), smart);
    tx.log(
        LogAction::LoginFailed,
        format!("user {login}"),
        format!("{channel}: {}", why.as_str()),
    );
    if why != Denied::WrongPassword || locked_for(&creds, tx.actor().ip, tx.now(), smart) {
        return false;
    }
    let (count, lock) = match counter {
        LockCounter::Unfamiliar => (&mut creds.failed_unfamiliar, &mut creds.locked_unfamiliar),
        _ => (&mut creds.failed_attempts, &mut creds.locked),
    };
    let (attempts, locks) = count_failure(count, lock, threshold);
    tx.put_credentials(user_id, creds);
    if locks {
        let ended = if counter == LockCounter::Unfamiliar {
            0
        } else {
            tx.end_sessions_of(user_id, None)
        };
        announce_lock(tx, user_id, counter, attempts, ended);
    }
    locks
}

/// Counts one more failure on `count`; at `threshold` it sets `lock`.
/// Returns the failures so far and whether this one locked.
fn count_failure(count: &mut u32, lock: &mut bool, threshold: u32) -> (u32, bool) {
    *count = count.saturating_add(1);
    let locks = *count >= threshold;
    *lock |= locks;
    (*count, locks)
}

/// A lock just taken by `counter` (R8.2, R8.7): the `user.lock` entry says
/// after how many failures, what it refuses and how many sessions it ended,
/// and the user is mailed which lock it is.
fn announce_lock(tx: &mut Tx<'_>, user_id: &Id, counter: LockCounter, attempts: u32, ended: usize) {
    let details = format!(
        "locked after {attempts} failed attempts {}; {}; {ended} sessions ended",
        counter.from_where(),
        counter.refuses()
    );
    log_and_tell(
        tx,
        user_id,
        LogAction::UserLock,
        details,
        NoticeKind::AccountLockedBy { counter },
    );
}

/// Logs `action` on the user's account and mails the user a `kind` notice
/// about it, so that what happens to an account its owner hears of.
fn log_and_tell(
    tx: &mut Tx<'_>,
    user_id: &Id,
    action: LogAction,
    details: impl Into<String>,
    kind: NoticeKind,
) {
    let login = login_of(tx, user_id);
    tx.log(action, format!("user {login}"), details);
    tx.queue_notice(Notice::to_user(kind, user_id.clone(), None));
}

/// A wrong secret answer (R8.7): logged as `password_reset.failed`, apart
/// from wrong passwords, and counted against its own counter, which locks
/// self-service reset at the login threshold. `why` says why it failed.
pub fn record_answer_failure(tx: &mut Tx<'_>, user_id: &Id, why: &str) -> bool {
    let threshold = tx.state().settings.security.lockout_threshold.max(1);
    let mut creds = creds_of(tx, user_id);
    let login = login_of(tx, user_id);
    tx.log(LogAction::PasswordResetFailed, format!("user {login}"), why);
    if creds.answers_locked || why != WRONG_ANSWERS {
        return false;
    }
    let (attempts, locks) = count_failure(
        &mut creds.failed_answers,
        &mut creds.answers_locked,
        threshold,
    );
    tx.put_credentials(user_id, creds);
    if locks {
        // A reset lock refuses no sign-in, so no session ends.
        announce_lock(tx, user_id, LockCounter::SecretAnswers, attempts, 0);
    }
    locks
}

/// The `password_reset.failed` detail of wrong answers, the only failure
/// that counts.
pub const WRONG_ANSWERS: &str = "wrong answers";

/// A login as given by a client, fit for the log and exports: at most 64
/// characters, control characters escaped as `\u{..}` so that none reaches
/// a terminal raw and none is silently dropped (`bo\0ss` is not `boss`).
pub fn shown(login: &str) -> String {
    let mut out = String::new();
    for c in login.chars().take(64) {
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// A failed attempt for a login that does not exist: logged only.
pub fn record_unknown_login(tx: &mut Tx<'_>, login: &str, api: bool) {
    let shown = shown(login);
    let channel = if api { "API" } else { "UI" };
    tx.log(
        LogAction::LoginFailed,
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
    smart: bool,
    log: bool,
) -> Result<User, Refusal> {
    let state = tx.state();
    let now = tx.now();
    let ip = tx.actor().ip;
    let mut user = state
        .users
        .get(user_id)
        .cloned()
        .ok_or_else(|| Refusal::new(Code::Unauthenticated, "login failed"))?;
    // Re-checked here: the state may have changed while the hash was computed.
    if let Some(why) = login_barrier_from(state, &user, ip, now, smart) {
        return Err(Refusal::new(Code::Unauthenticated, why.as_str()));
    }
    let mut creds = state.credentials.get(user_id).cloned().unwrap_or_default();
    // Counters clear, locks stay: only a Manager or the operator lifts a
    // lock (R8.2), and a familiar address gets past an unfamiliar lock.
    let familiar_changed = remember_address(&mut creds, ip, now);
    if creds.failed_attempts != 0
        || creds.failed_unfamiliar != 0
        || rehash.is_some()
        || familiar_changed
    {
        creds.failed_attempts = 0;
        creds.failed_unfamiliar = 0;
        if let Some(h) = rehash {
            creds.password_hash = Some(h);
        }
        tx.put_credentials(user_id, creds);
    }
    // Quiet (API access within `auth.basic_log_interval` of the last entry)
    // leaves the user record and the log alone; a first login never is.
    let log = log || user.status == UserStatus::PendingActivation;
    if let Some(s) = session {
        tx.put_session(s);
    }
    if log {
        user.status = UserStatus::Active;
        record_access(tx, user, api)
    } else {
        Ok(user)
    }
}

/// API access by HTTP Basic whose password was verified a moment ago (the
/// daemon remembers it for `auth.basic_cache_ttl`): the `login` entry and
/// `last_login_at` of that access, without a second verification.
pub fn record_api_access(tx: &mut Tx<'_>, user_id: &Id) -> Result<User, Refusal> {
    let user = tx
        .state()
        .users
        .get(user_id)
        .filter(|u| u.status == UserStatus::Active)
        .cloned()
        .ok_or_else(|| Refusal::new(Code::Unauthenticated, "login failed"))?;
    record_access(tx, user, true)
}

fn record_access(tx: &mut Tx<'_>, mut user: User, api: bool) -> Result<User, Refusal> {
    user.last_login_at = Some(tx.now());
    tx.put_user(user.clone());
    let channel = if api { "API" } else { "UI" };
    tx.log(LogAction::Login, format!("user {}", user.login), channel);
    Ok(user)
}

/// How stale a familiar address's time may get before a login refreshes
/// it: an hour keeps most logins free of a credentials write.
const FAMILIAR_REFRESH: Duration = Duration::from_secs(3600);

/// Records a successful login from `ip`; whether anything changed.
fn remember_address(creds: &mut Credentials, ip: Option<IpAddr>, now: Timestamp) -> bool {
    let Some(ip) = ip else { return false };
    let net = FamiliarAddress::net_of(ip);
    let before = creds.familiar.len();
    creds
        .familiar
        .retain(|f| now < f.last_success.saturating_add(FAMILIAR_FOR));
    let expired = creds.familiar.len() != before;
    if let Some(i) = creds.familiar.iter().position(|f| f.net == net) {
        if now
            < creds.familiar[i]
                .last_success
                .saturating_add(FAMILIAR_REFRESH)
        {
            return expired;
        }
        creds.familiar.remove(i);
    }
    if creds.familiar.len() >= MAX_FAMILIAR {
        creds.familiar.remove(0);
    }
    creds.familiar.push(FamiliarAddress {
        net,
        last_success: now,
    });
    true
}

/// Whether any lock an administrator clears is set (R8.2, R8.7): either
/// password counter's, or the secret answers'.
pub fn is_locked(creds: &Credentials) -> bool {
    creds.locked || creds.locked_unfamiliar || creds.answers_locked
}

/// Clears every lock and counter (R7.2, R7.3, R8.2); whether any was set.
pub fn clear_locks(creds: &mut Credentials) -> bool {
    let any = creds.locked
        || creds.locked_unfamiliar
        || creds.answers_locked
        || creds.failed_attempts != 0
        || creds.failed_unfamiliar != 0
        || creds.failed_answers != 0;
    creds.locked = false;
    creds.locked_unfamiliar = false;
    creds.answers_locked = false;
    creds.failed_attempts = 0;
    creds.failed_unfamiliar = 0;
    creds.failed_answers = 0;
    any
}

/// What a valid activation link leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    /// The link revealed a generated password (now stored as `hash`).
    Revealed {
        /// The login to sign in with, shown with the password.
        login: String,
    },
    /// User-defined passwords: the link is still valid for setting one.
    ChooseOwn {
        /// The login the new password will be for.
        login: String,
    },
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
    let user = link_user(tx.state(), &link)?;
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
    let user = link_user(tx.state(), &link)?;
    set_password_from_link(tx, link, &user, hash);
    Ok(user.login)
}

/// The user a live link is for; a link whose user is gone is no link.
fn link_user(state: &State, link: &ActivationLink) -> Result<User, Refusal> {
    state
        .users
        .get(&link.user)
        .cloned()
        .ok_or_else(|| Refusal::new(Code::NotFound, "no such activation link"))
}

fn set_password_from_link(tx: &mut Tx<'_>, mut link: ActivationLink, user: &User, hash: String) {
    let mut creds = creds_of(tx, &user.id);
    creds.password_hash = Some(hash);
    creds.password_never_expires = false;
    creds.password_changed_at = Some(tx.now());
    clear_locks(&mut creds);
    tx.put_credentials(&user.id, creds);
    link.used = true;
    tx.put_activation_link(link);
    tx.log(
        LogAction::UserActivation,
        format!("user {}", user.login),
        "one-time link used",
    );
}

/// Whether `actor` may reset `target`'s password (R7.2): Managers anyone,
/// Unit Managers users of their own unit whose role and permissions they
/// could grant themselves (R2.2, R5.2), so never a peer with more reach.
pub fn may_reset(state: &State, actor: &User, target: &User) -> bool {
    match actor.role {
        Role::Manager => true,
        Role::UnitManager => {
            actor.business_unit.is_some()
                && actor.business_unit == target.business_unit
                && super::roles::UNIT_ROLES.contains(&target.role)
                && super::roles::grants_within(state, actor, target)
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
        && !may_reset(tx.state(), a, &target)
    {
        return Err(Refusal::new(
            Code::Forbidden,
            "only Managers, or Unit Managers for users of their unit whose role and permissions they could grant, reset passwords",
        ));
    }
    if target.role == Role::Contact {
        return Err(Refusal::new(
            Code::Conflict,
            format!("{} is a Contact and has no password", target.login),
        ));
    }
    let mut creds = creds_of(tx, target_id);
    // A link to an address changed moments ago may go to whoever changed it.
    let manager = actor.is_none_or(|a| a.role == Role::Manager);
    if !manager
        && creds
            .email_changed_at
            .is_some_and(|t| tx.now() < t.saturating_add(EMAIL_SETTLES_AFTER))
    {
        return Err(Refusal::new(
            Code::Conflict,
            format!(
                "the email of {} changed less than 24 hours ago; a Manager can reset its password now, or try again later",
                target.login
            ),
        ));
    }
    issue_link(tx, &target, link_hash, expires_at);
    creds.password_hash = None;
    creds.password_never_expires = false;
    creds.password_changed_at = None;
    clear_locks(&mut creds);
    tx.put_credentials(target_id, creds);
    let ended = tx.end_sessions_of(target_id, None);
    tx.queue_notice(Notice::to_user(
        NoticeKind::NewCredentials,
        target_id.clone(),
        Some(link_token),
    ));
    tx.log(
        LogAction::UserPasswordReset,
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
        LogAction::UserActivationLink,
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
    if !clear_locks(&mut creds) {
        return Ok(user);
    }
    tx.put_credentials(&user.id, creds);
    tx.log(
        LogAction::UserUnlock,
        format!("user {login}"),
        "locks and failed attempts of passwords and secret answers cleared",
    );
    Ok(user)
}

/// Whether `user` may set its own password now (R8.5): with user-defined
/// passwords, or when its password has expired.
pub fn may_choose_password(state: &State, user: &User, now: Timestamp) -> Result<(), Refusal> {
    if !state.settings.security.user_defined_passwords && !password_expired(state, user, now) {
        return Err(Refusal::new(
            Code::Forbidden,
            "this subscription does not let users choose passwords; ask an administrator to reset yours",
        ));
    }
    Ok(())
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
    may_choose_password(tx.state(), &user, tx.now())?;
    super::password::check(new, tx.state().settings.security.min_password_length)?;
    let mut creds = creds_of(tx, user_id);
    creds.password_hash = Some(new_hash);
    creds.password_never_expires = false;
    creds.password_changed_at = Some(tx.now());
    tx.put_credentials(user_id, creds);
    let ended = tx.end_sessions_of(user_id, keep_session);
    tx.log(
        LogAction::UserPasswordChange,
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
    // Whoever holds a session could do this: the owner hears of it.
    log_and_tell(
        tx,
        user_id,
        LogAction::UserSecretQuestions,
        "three questions set",
        NoticeKind::SecretQuestionsChanged,
    );
    Ok(())
}

/// Whether a self-service reset from `ip` is refused by a lock (R8.7): the
/// answer lock, or a password lock that refuses `ip` (R8.2).
pub fn reset_locked(creds: &Credentials, ip: Option<IpAddr>, now: Timestamp, smart: bool) -> bool {
    creds.answers_locked || locked_for(creds, ip, now, smart)
}

/// Self-service reset after three right answers (R8.7): sets the new
/// password and ends sessions. It lifts no lock: a locked account cannot
/// reset itself, only a Manager or an R7.2 resetter unlocks it (R8.2).
pub fn self_reset(
    tx: &mut Tx<'_>,
    user_id: &Id,
    new: &str,
    hash: String,
    smart: bool,
) -> Result<(), Refusal> {
    super::password::check(new, tx.state().settings.security.min_password_length)?;
    let mut creds = creds_of(tx, user_id);
    // Re-checked here: a lock may have come while the answers were hashed.
    if reset_locked(&creds, tx.actor().ip, tx.now(), smart) {
        return Err(Refusal::new(Code::Unauthenticated, Denied::Locked.as_str()));
    }
    creds.password_hash = Some(hash);
    creds.password_never_expires = false;
    creds.password_changed_at = Some(tx.now());
    creds.failed_attempts = 0;
    creds.failed_unfamiliar = 0;
    creds.failed_answers = 0;
    tx.put_credentials(user_id, creds);
    tx.end_sessions_of(user_id, None);
    log_and_tell(
        tx,
        user_id,
        LogAction::UserPasswordSelfReset,
        "after three right answers",
        NoticeKind::PasswordSelfReset,
    );
    Ok(())
}
