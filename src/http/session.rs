//! Sessions and self-service (docs/api.md): login,
//! logout, own account, password change, secret questions, account
//! activity, activation links and the self-service reset.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::{Caller, login_error, peer_ip, user_agent};
use super::extract::{ApiJson, ApiQuery};
use super::problem::{ApiError, ApiResult, Problem};
use super::views::{Page, SessionView, UserView};
use super::{App, Command};
use crate::auth::pool::Busy;
use crate::auth::service::{LoginError, Origin, generate_password_of};
use crate::domain::LogAction;
use crate::domain::credentials::{self, Activation};
use crate::domain::{Actor, Id, Role, State as Subscription, Timestamp, Tx, User};
use crate::ids;

fn busy(_: Busy) -> ApiError {
    login_error(crate::auth::service::LoginError::Busy)
}

/// Request facts that are not in the body.
pub struct Source {
    pub(crate) ip: Option<std::net::IpAddr>,
    pub(crate) user_agent: String,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Source {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Source, ApiError> {
        Ok(Source {
            ip: peer_ip(parts),
            user_agent: user_agent(parts),
        })
    }
}

fn anonymous(ip: Option<std::net::IpAddr>, login: &str) -> Actor {
    Actor {
        user: None,
        login: login.chars().take(64).collect(),
        business_unit: None,
        ip,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub(crate) login: String,
    pub(crate) password: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token: send as `Authorization: Bearer <token>`.
    token: String,
    expires_at: String,
    user: UserView,
    /// The password has expired: only `PUT /api/v1/me/password` works until it is changed.
    password_change_required: bool,
}

/// Log in (R8.1–R8.4).
#[utoipa::path(post, path = "/api/v1/session", tag = "sessions", request_body = LoginRequest,
    responses(
        (status = 201, body = LoginResponse),
        (status = 401, description = "every login failure", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate limited; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn login(
    State(app): State<App>,
    source: Source,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<(StatusCode, Json<LoginResponse>)> {
    let ok = sign_in(&app, &source, &req.login, &req.password, Channel::Api)
        .await
        .map_err(login_error)?;
    let (Some(token), Some(session)) = (ok.token, ok.session) else {
        return Err(ApiError::internal());
    };
    let state = app.store.snapshot();
    Ok((
        StatusCode::CREATED,
        Json(LoginResponse {
            token,
            expires_at: session.expires_at.to_rfc3339(),
            user: UserView::new(&state, &ok.user),
            password_change_required: ok.password_change_required,
        }),
    ))
}

/// Checks a login and opens a session, counting the outcome: the one way
/// in for the API's `POST /session` and the console's sign-in page, so both
/// pass the same limits, the same hashing pool and give the same answer to
/// every failure (R8.3, R8.4).
/// Where a sign-in came from, as the activity log says it (R11.1): the
/// seed finds "API activities" by searching the details for `API`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    /// `POST /api/v1/session` or HTTP Basic: a script or a service.
    Api,
    /// The console's sign-in page: a person in a browser.
    Ui,
}

pub(crate) async fn sign_in(
    app: &App,
    source: &Source,
    login: &str,
    password: &str,
    channel: Channel,
) -> Result<crate::auth::service::LoginOk, LoginError> {
    let origin = Origin {
        ip: source.ip,
        user_agent: source.user_agent.clone(),
        api: channel == Channel::Api,
    };
    let result = app
        .auth
        .login(&app.store, login, password, &origin, true)
        .await;
    let counter = match &result {
        Ok(_) => &app.metrics.logins_ok,
        Err(LoginError::RateLimited(_) | LoginError::Busy) => &app.metrics.logins_limited,
        Err(_) => &app.metrics.logins_failed,
    };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    result
}

/// Log out: ends the session the request came with.
#[utoipa::path(delete, path = "/api/v1/session", tag = "sessions",
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn logout(State(app): State<App>, caller: Caller) -> ApiResult<StatusCode> {
    end_session(&app, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends the session `caller` came with (API logout and the console's "Sign out").
pub(crate) async fn end_session(app: &App, caller: &Caller) -> ApiResult<()> {
    if let Some(hash) = caller.session.clone() {
        let login = caller.user.login.clone();
        app.store
            .write(caller.actor(), move |tx| {
                tx.remove_session(&hash);
                tx.log(
                    LogAction::Logout,
                    format!("user {login}"),
                    "session ended by its user",
                );
                Ok(())
            })
            .await?;
        if let Some(h) = &caller.session {
            app.sessions.forget(h);
        }
    }
    Ok(())
}

/// The calling user.
#[utoipa::path(get, path = "/api/v1/me", tag = "sessions",
    responses((status = 200, body = UserView)), security(("bearer" = []), ("basic" = [])))]
pub async fn me(State(app): State<App>, caller: Caller) -> Json<UserView> {
    Json(UserView::new(&app.store.snapshot(), &caller.user))
}

/// A new password's length cap, before any policy check or hash: a long
/// password would cost the hashing pool for nothing.
pub(crate) fn password_length(password: &str) -> ApiResult<()> {
    if password.len() > 1024 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "password_policy",
            "use at most 1024 characters",
        ));
    }
    Ok(())
}

/// Every check of a new password that needs no I/O: the cap, then the
/// policy in force (R8.5). Before it is hashed, so a refused one costs none.
pub(crate) fn check_new_password(password: &str, min_length: u32) -> ApiResult<()> {
    password_length(password)?;
    crate::domain::password::check(password, min_length)?;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub(crate) current: String,
    pub(crate) new: String,
}

/// Change the own password (user-defined passwords, or an expired one).
#[utoipa::path(put, path = "/api/v1/me/password", tag = "sessions", request_body = PasswordChange,
    responses((status = 204), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn change_password(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    change_own_password(&app, &caller, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller changes its own password: the API's and the console's.
pub(crate) async fn change_own_password(
    app: &App,
    caller: &Caller,
    req: PasswordChange,
) -> ApiResult<()> {
    password_length(&req.new)?;
    app.auth
        .current_limits(&app.store, &caller.user, caller.ip)
        .await
        .map_err(login_error)?;
    let state = app.store.snapshot();
    // Refused before any verification: a password that cannot be changed
    // must not make this an oracle for the current one (R8.5).
    credentials::may_choose_password(&state, &caller.user, app.clock.now())?;
    current_password(app, caller, &req.current).await?;
    // Policy first, so that a refused password costs no hash.
    check_new_password(&req.new, state.settings.security.min_password_length)?;
    // Hashing runs on the auth pool, so it stays out of the translation.
    let hash = app
        .auth
        .hash(caller.ip, req.new.clone())
        .await
        .map_err(busy)?;
    let command =
        change_password_command(req, caller.user.id.clone(), hash, caller.session.clone());
    app.store.write(caller.actor(), command).await?;
    Ok(())
}

/// `PUT /me/password` as a command, once the new password passed
/// [`check_new_password`] and has its `hash`; session `keep` stays open.
pub(crate) fn change_password_command(
    req: PasswordChange,
    user: Id,
    hash: String,
    keep: Option<String>,
) -> impl Command<()> {
    move |tx: &mut Tx<'_>| credentials::change_password(tx, &user, &req.new, hash, keep.as_deref())
}

/// Verifies the caller's current password like a login (R8.2): a wrong one
/// is counted and logged as a failed login. The limits were checked first.
async fn current_password(app: &App, caller: &Caller, password: &str) -> ApiResult<()> {
    let origin = Origin {
        ip: caller.ip,
        user_agent: String::new(),
        api: caller.basic,
    };
    match app
        .auth
        .verify_current(&app.store, &caller.user, password, &origin)
        .await
    {
        Ok(()) => Ok(()),
        Err(LoginError::Denied) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "the current password is wrong",
        )),
        Err(e) => Err(login_error(e)),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretQuestion {
    pub(crate) question: String,
    pub(crate) answer: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretQuestions {
    pub(crate) questions: Vec<SecretQuestion>,
    /// The caller's password: a session alone does not set the questions
    /// that can reset it (R8.7).
    pub(crate) current_password: String,
}

impl SecretQuestions {
    /// Three answers of 1 to 256 characters, checked before any is hashed.
    pub(crate) fn check(&self) -> ApiResult<()> {
        if self.questions.len() != 3 {
            return Err(ApiError::validation("questions: give exactly three"));
        }
        if self
            .questions
            .iter()
            .any(|q| q.answer.is_empty() || q.answer.len() > 256)
        {
            return Err(ApiError::validation("answer: give 1 to 256 characters"));
        }
        Ok(())
    }
}

/// Set the three secret questions for self-service reset (R8.7).
#[utoipa::path(put, path = "/api/v1/me/secret-questions", tag = "sessions", request_body = SecretQuestions,
    responses((status = 204), (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_secret_questions(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<SecretQuestions>,
) -> ApiResult<StatusCode> {
    set_own_questions(&app, &caller, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller sets its own secret questions: the API's and the console's.
pub(crate) async fn set_own_questions(
    app: &App,
    caller: &Caller,
    req: SecretQuestions,
) -> ApiResult<()> {
    req.check()?;
    app.auth
        .current_limits(&app.store, &caller.user, caller.ip)
        .await
        .map_err(login_error)?;
    current_password(app, caller, &req.current_password).await?;
    // Hashing runs on the auth pool, so it stays out of the translation.
    let mut hashed = Vec::with_capacity(3);
    for q in req.questions {
        // Answers are case-sensitive (R8.7): hashed as given.
        let h = app.auth.hash(caller.ip, q.answer).await.map_err(busy)?;
        hashed.push((q.question, h));
    }
    let command = set_secret_questions_command(hashed, caller.user.id.clone());
    app.store.write(caller.actor(), command).await?;
    Ok(())
}

/// `PUT /me/secret-questions` as a command, once checked: each question
/// (trimmed) with its answer's hash.
pub(crate) fn set_secret_questions_command(
    hashed: Vec<(String, String)>,
    user: Id,
) -> impl Command<()> {
    let questions = hashed
        .into_iter()
        .map(|(q, h)| (q.trim().to_owned(), h))
        .collect();
    move |tx: &mut Tx<'_>| credentials::set_secret_questions(tx, &user, questions)
}

pub(crate) fn sessions_of(app: &App, user: &str, current: Option<&str>) -> Vec<SessionView> {
    let state = app.store.snapshot();
    let now = app.clock.now();
    let mut list: Vec<SessionView> = state
        .sessions
        .values()
        .filter(|s| s.user == user && now < s.expires_at)
        .map(|s| {
            SessionView::new(
                s,
                app.sessions.last_used(&s.token_hash),
                Some(s.token_hash.as_str()) == current,
            )
        })
        .collect();
    list.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    list
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    /// 1 to 1000; default 100.
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of sessions, oldest first, after the session whose id is the
/// cursor: a list like every other (docs/api.md).
fn page_of(list: Vec<SessionView>, q: &SessionQuery) -> ApiResult<Page<SessionView>> {
    let limit = crate::domain::directory::page_limit(q.limit)?;
    let start = match q.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => {
            list.iter().position(|s| s.id == c).ok_or_else(|| {
                ApiError::validation("cursor: pass the next_cursor of the previous page")
            })? + 1
        }
    };
    let rest = list.len().saturating_sub(start);
    let items: Vec<SessionView> = list.into_iter().skip(start).take(limit).collect();
    let next_cursor = if rest > limit {
        items.last().map(|s| s.id.clone())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Own sessions (R8.8), oldest first.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "sessions", params(SessionQuery),
    responses((status = 200, body = Page<SessionView>),
        (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn my_sessions(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SessionQuery>,
) -> ApiResult<Json<Page<SessionView>>> {
    let list = sessions_of(&app, &caller.user.id, caller.session.as_deref());
    Ok(Json(page_of(list, &q)?))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Ended {
    ended: usize,
}

/// Sign out every other session of the caller (R8.8).
#[utoipa::path(post, path = "/api/v1/me/sessions/sign-out-others", tag = "sessions",
    responses((status = 200, body = Ended)), security(("bearer" = []), ("basic" = [])))]
pub async fn sign_out_others(State(app): State<App>, caller: Caller) -> ApiResult<Json<Ended>> {
    let ended = end_other_sessions(&app, &caller).await?;
    Ok(Json(Ended { ended }))
}

/// Ends every session of `caller` but the one it came with (R8.8); how many.
pub(crate) async fn end_other_sessions(app: &App, caller: &Caller) -> ApiResult<usize> {
    let id = caller.user.id.clone();
    let keep = caller.session.clone();
    let login = caller.user.login.clone();
    let ended = app
        .store
        .write(caller.actor(), move |tx| {
            let n = tx.end_sessions_of(&id, keep.as_deref());
            tx.log(
                LogAction::SessionRevoke,
                format!("user {login}"),
                format!("{n} other sessions signed out"),
            );
            Ok(n)
        })
        .await?;
    Ok(ended)
}

/// A user's sessions, for Managers (R8.8).
#[utoipa::path(get, path = "/api/v1/users/{id}/sessions", tag = "users",
    params(("id" = String, Path, description = "user id"), SessionQuery),
    responses((status = 200, body = Page<SessionView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn user_sessions(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SessionQuery>,
) -> ApiResult<Json<Page<SessionView>>> {
    if caller.user.role != Role::Manager && caller.user.id != id {
        return Err(ApiError::forbidden(
            "only Managers see other users' sessions",
        ));
    }
    if !app.store.snapshot().users.contains_key(&id) {
        return Err(ApiError::not_found("no such user"));
    }
    let list = sessions_of(&app, &id, caller.session.as_deref());
    Ok(Json(page_of(list, &q)?))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ActivationView {
    pub(crate) login: String,
    /// The generated password, shown this once; `null` with user-defined
    /// passwords (then POST a password to this link).
    pub(crate) password: Option<String>,
}

/// Open a one-time activation or reset link (R7.1): reveals the login and a
/// generated password once, then 410.
#[utoipa::path(get, path = "/api/v1/activation/{token}", tag = "sessions",
    params(("token" = String, Path)),
    responses((status = 200, body = ActivationView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "used or expired", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many links opened from this address; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn open_activation(
    State(app): State<App>,
    source: Source,
    Path(token): Path<String>,
) -> ApiResult<Json<ActivationView>> {
    reveal_password(&app, &source, &token).await.map(Json)
}

/// What a one-time link must pass before anything is spent on it (R7.1):
/// the per-address limit, then the link itself on the snapshot, so that an
/// unknown, used or expired link costs no hash.
fn live_link_first(app: &App, source: &Source, hash: &str) -> ApiResult<()> {
    app.auth
        .link_limits(source.ip)
        .map_err(|wait| login_error(LoginError::RateLimited(wait)))?;
    credentials::live_link(&app.store.snapshot(), hash, app.clock.now())?;
    Ok(())
}

/// Uses up a one-time link and reveals the login and a new generated
/// password (or only the login, with user-defined passwords): the API's
/// `GET` of the link and the console's "Show my password".
pub(crate) async fn reveal_password(
    app: &App,
    source: &Source,
    token: &str,
) -> ApiResult<ActivationView> {
    let hash = ids::token_hash(token);
    live_link_first(app, source, &hash)?;
    // The policy in force, not the default: a generated password shorter
    // than the minimum could never be changed back to by the user (R8.5).
    let min_length = app.store.snapshot().settings.security.min_password_length;
    let password = generate_password_of(min_length);
    let generated = app
        .auth
        .hash(source.ip, password.clone())
        .await
        .map_err(busy)?;
    let outcome = app
        .store
        .write(anonymous(source.ip, "activation link"), move |tx| {
            credentials::open_activation(tx, &hash, generated)
        })
        .await?;
    Ok(match outcome {
        Activation::Revealed { login } => ActivationView {
            login,
            password: Some(password),
        },
        Activation::ChooseOwn { login } => ActivationView {
            login,
            password: None,
        },
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChosenPassword {
    pub(crate) password: String,
}

/// Set the password through a one-time link (user-defined passwords).
#[utoipa::path(post, path = "/api/v1/activation/{token}", tag = "sessions",
    params(("token" = String, Path)), request_body = ChosenPassword,
    responses((status = 200, body = ActivationView), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many links opened from this address; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn complete_activation(
    State(app): State<App>,
    source: Source,
    Path(token): Path<String>,
    ApiJson(req): ApiJson<ChosenPassword>,
) -> ApiResult<Json<ActivationView>> {
    let login = choose_password(&app, &source, &token, req.password).await?;
    Ok(Json(ActivationView {
        login,
        password: None,
    }))
}

/// Sets the password a person chose through a one-time link (user-defined
/// passwords); its login. The API's `POST` of the link and the console's
/// "Set password".
pub(crate) async fn choose_password(
    app: &App,
    source: &Source,
    token: &str,
    password: String,
) -> ApiResult<String> {
    let req = ChosenPassword { password };
    let hash = ids::token_hash(token);
    live_link_first(app, source, &hash)?;
    let state = app.store.snapshot();
    check_new_password(&req.password, state.settings.security.min_password_length)?;
    // Hashing runs on the auth pool, so it stays out of the translation.
    let hashed = app
        .auth
        .hash(source.ip, req.password.clone())
        .await
        .map_err(busy)?;
    let login = app
        .store
        .write(
            anonymous(source.ip, "activation link"),
            complete_activation_command(req, hash, hashed),
        )
        .await?;
    Ok(login)
}

/// `POST /activation/{token}` as a command on the link whose hash is
/// `token_hash`, once the password passed [`check_new_password`] and has
/// its `hash`; answers the login.
pub(crate) fn complete_activation_command(
    req: ChosenPassword,
    token_hash: String,
    hash: String,
) -> impl Command<String> {
    move |tx: &mut Tx<'_>| credentials::complete_activation(tx, &token_hash, &req.password, hash)
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ResetIssued {
    user: UserView,
    /// When the new one-time link (sent by email) stops working.
    link_expires_at: String,
}

/// Administrator reset (R7.2): a new one-time link is emailed, the lock and
/// failed count are cleared and every session of the user ends.
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", tag = "users",
    params(("id" = String, Path)),
    responses((status = 200, body = ResetIssued), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn admin_reset(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ResetIssued>> {
    let (user, expires_at) = reset_by_administrator(&app, &caller, id).await?;
    Ok(Json(ResetIssued {
        user: UserView::new(&app.store.snapshot(), &user),
        link_expires_at: expires_at.to_rfc3339(),
    }))
}

/// R7.2: emails a new one-time link, clears the lock and ends every session
/// of the user. Answers the user and when the link stops working.
pub(crate) async fn reset_by_administrator(
    app: &App,
    caller: &Caller,
    id: String,
) -> ApiResult<(User, Timestamp)> {
    let token = ids::new_token();
    let hash = ids::token_hash(&token);
    let expires_at = app
        .clock
        .now()
        .saturating_add(app.config.auth.activation_link_lifetime.0);
    let actor = caller.user.clone();
    let user = app
        .store
        .write(caller.actor(), move |tx| {
            credentials::reset_password(tx, Some(&actor), &id, token, hash, expires_at)
        })
        .await?;
    let state = app.store.snapshot();
    for s in state.sessions.values().filter(|s| s.user == user.id) {
        app.sessions.forget(&s.token_hash);
    }
    Ok((user, expires_at))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetStart {
    pub(crate) login: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ResetQuestions {
    questions: Vec<String>,
}

/// Self-service reset, step 1 (R8.7): the login's three questions; the
/// same shape for every login, known or not.
#[utoipa::path(post, path = "/api/v1/password-reset", tag = "sessions", request_body = ResetStart,
    responses((status = 200, body = ResetQuestions),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn reset_questions(
    State(app): State<App>,
    source: Source,
    ApiJson(req): ApiJson<ResetStart>,
) -> ApiResult<Json<ResetQuestions>> {
    let questions = reset_questions_for(&app, &source, &req.login).await?;
    Ok(Json(ResetQuestions { questions }))
}

/// R8.7 step 1 for the API and the console: three questions for any login.
pub(crate) async fn reset_questions_for(
    app: &App,
    source: &Source,
    login: &str,
) -> ApiResult<Vec<String>> {
    app.auth
        .reset_limits(&app.store, source.ip, login)
        .await
        .map_err(login_error)?;
    // Every login gets three questions (R8.7): real ones, or decoys that
    // stay the same, so the answer does not say which logins exist.
    let questions = real_questions(&app.store.snapshot(), login)
        .unwrap_or_else(|| app.auth.decoy_questions(login));
    Ok(questions)
}

/// The three questions of `login` if it may reset its password (it may
/// sign in, or only a lock keeps it out); `None` calls for decoys.
pub(crate) fn real_questions(state: &Subscription, login: &str) -> Option<Vec<String>> {
    state
        .user_by_login(login)
        .filter(|u| {
            credentials::login_barrier(state, u).is_none_or(|d| d == credentials::Denied::Locked)
        })
        .and_then(|u| state.credentials.get(&u.id))
        .map(|c| {
            c.secret_questions
                .iter()
                .map(|(q, _)| q.clone())
                .collect::<Vec<_>>()
        })
        .filter(|q| q.len() == 3)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetAnswers {
    pub(crate) login: String,
    pub(crate) answers: Vec<String>,
    /// Required with user-defined passwords; otherwise one is generated.
    pub(crate) new_password: Option<String>,
}

impl ResetAnswers {
    /// Three answers of at most 256 characters, before any hash.
    pub(crate) fn check(&self) -> ApiResult<()> {
        if self.answers.len() != 3 || self.answers.iter().any(|a| a.len() > 256) {
            return Err(ApiError::validation(
                "answers: give exactly three, each at most 256 characters",
            ));
        }
        Ok(())
    }
}

/// Self-service reset, step 2 (R8.7): three right answers set a new
/// password; wrong answers count against their own counter and lock.
#[utoipa::path(post, path = "/api/v1/password-reset/answers", tag = "sessions", request_body = ResetAnswers,
    responses((status = 200, body = ActivationView), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn reset_answers(
    State(app): State<App>,
    source: Source,
    ApiJson(req): ApiJson<ResetAnswers>,
) -> ApiResult<Json<ActivationView>> {
    answer_reset(&app, &source, req).await.map(Json)
}

/// R8.7 step 2 for the API and the console.
pub(crate) async fn answer_reset(
    app: &App,
    source: &Source,
    req: ResetAnswers,
) -> ApiResult<ActivationView> {
    app.auth
        .reset_limits(&app.store, source.ip, &req.login)
        .await
        .map_err(login_error)?;
    let denied = || login_error(crate::auth::service::LoginError::Denied);
    req.check()?;
    let state = app.store.snapshot();
    let user = state.user_by_login(&req.login).cloned();
    let creds = user
        .as_ref()
        .and_then(|u| state.credentials.get(&u.id))
        .filter(|c| c.secret_questions.len() == 3)
        .cloned();
    let (Some(user), Some(creds)) = (user, creds) else {
        // The same hashing and the same kind of write as a real check, so
        // that the time taken does not tell unknown logins apart (R8.7).
        app.auth
            .dummy_answers(source.ip, &req.answers)
            .await
            .map_err(busy)?;
        app.auth.reset_failed(&req.login);
        let shown = credentials::shown(&req.login);
        app.store
            .write(anonymous(source.ip, &shown), move |tx| {
                tx.log(
                    LogAction::PasswordResetFailed,
                    format!("login {shown}"),
                    "no self-service reset for this login",
                );
                Ok(())
            })
            .await?;
        return Err(denied());
    };
    let mut all_right = true;
    for (answer, (_, hash)) in req.answers.into_iter().zip(creds.secret_questions.clone()) {
        all_right &= app
            .auth
            .verify(source.ip, answer, hash)
            .await
            .map_err(busy)?;
    }
    let smart = app.auth.smart_lockout();
    let barrier = credentials::login_barrier(&state, &user).filter(|d| {
        !matches!(
            d,
            credentials::Denied::Locked | credentials::Denied::NotActivated
        )
    });
    // A locked account does not reset itself (R8.2, R8.7), right answers or not.
    let locked = credentials::reset_locked(&creds, source.ip, app.clock.now(), smart);
    let actor = Actor {
        user: Some(user.id.clone()),
        login: user.login.clone(),
        business_unit: user.business_unit.clone(),
        ip: source.ip,
    };
    if !all_right || barrier.is_some() || locked {
        let why = match (barrier, locked) {
            (Some(d), _) => d.as_str(),
            (None, true) => credentials::Denied::Locked.as_str(),
            (None, false) => credentials::WRONG_ANSWERS,
        };
        if !all_right {
            app.auth.reset_failed(&user.login);
        }
        let id = user.id.clone();
        app.store
            .write(actor, move |tx| {
                credentials::record_answer_failure(tx, &id, why);
                Ok(())
            })
            .await?;
        return Err(denied());
    }
    let (password, shown) = reset_password_of(req.new_password, &state.settings.security)?;
    // Hashing runs on the auth pool, so it stays out of the translation.
    let hash = app
        .auth
        .hash(source.ip, password.clone())
        .await
        .map_err(busy)?;
    let command = self_reset_command(password, user.id.clone(), hash, smart);
    app.store.write(actor, command).await?;
    Ok(ActivationView {
        login: user.login,
        password: shown,
    })
}

/// The new password of a self-service reset (R8.7), checked: the one asked
/// for with user-defined passwords, else a generated one, also answered.
pub(crate) fn reset_password_of(
    asked: Option<String>,
    security: &crate::domain::SecuritySettings,
) -> ApiResult<(String, Option<String>)> {
    let min_length = security.min_password_length;
    let (password, shown) = match (asked, security.user_defined_passwords) {
        (Some(p), true) => (p, None),
        (None, true) => {
            return Err(ApiError::validation(
                "new_password: choose one (user-defined passwords are on)",
            ));
        }
        (_, false) => {
            let p = generate_password_of(min_length);
            (p.clone(), Some(p))
        }
    };
    check_new_password(&password, min_length)?;
    Ok((password, shown))
}

/// Step 2 of the self-service reset as a command, once the answers were
/// right and the new password (from [`reset_password_of`]) has its `hash`.
pub(crate) fn self_reset_command(
    password: String,
    user: Id,
    hash: String,
    smart: bool,
) -> impl Command<()> {
    move |tx: &mut Tx<'_>| credentials::self_reset(tx, &user, &password, hash, smart)
}
