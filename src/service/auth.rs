//! Sign-in: argon2 passwords, console sessions and API bearer tokens. Tokens and sessions
//! are random secrets stored as SHA-256 hashes; every request re-reads the user, so a
//! suspension takes effect on the next request.

use super::{Actor, App, Who, audit};
use crate::domain::{Email, Error, Result, model::Organization};
use crate::store::{self, auth as st, orgs};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use base64::Engine;
use chrono::Duration;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "meishi_session";
const SESSION_DAYS: i64 = 14;

/// A new password's hash, once `domain::password::check_new` accepts it (`email`: the user's,
/// which the password must not be).
pub fn hash_new_password(password: &str, email: Option<&str>) -> Result<String> {
    crate::domain::password::check_new(password, email)?;
    hash_password(password)
}

/// A password's hash, without the policy: only for the fixed demo and benchmark passwords.
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < crate::domain::password::MIN_CHARS {
        return Err(Error::bad_input("password", "a password needs at least 8 characters"));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("argon2: {e}")))
}

/// Whether `password` is the one `hash` was made from. Without a hash (an unknown user or
/// organisation) the same work is done against a dummy, so that timing tells nothing; every
/// call counts in `App::password_checks`.
pub(crate) fn password_matches(app: &App, password: &str, hash: Option<&str>) -> bool {
    app.password_checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Without a stored hash we still do the work, so that timing does not tell which emails exist.
    const DUMMY: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$yJbWvJc9Dc0H1FvTwxHcdOfmG0x2R5fy5l2cW1F1vTc";
    let Ok(parsed) = PasswordHash::new(hash.unwrap_or(DUMMY)) else {
        return false;
    };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && hash.is_some()
}

pub(crate) fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

pub(crate) fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn actor(org_id: String, row: store::users::UserRow) -> Actor {
    Actor {
        org_id,
        user_id: row.user.id,
        role: row.user.role,
        session: None,
    }
}

pub async fn actor_from_token(app: &App, token: &str) -> Result<Actor> {
    match st::user_by_token(app.read(), &hash_secret(token)).await? {
        Some((org, row)) => Ok(actor(org, row)),
        None => Err(Error::unauthenticated()),
    }
}

pub async fn actor_from_session(app: &App, session: &str) -> Result<Actor> {
    let hash = hash_secret(session);
    match st::user_by_session(app.read(), &hash, app.now()).await? {
        Some((org, row)) => Ok(Actor {
            session: Some(hash),
            ..actor(org, row)
        }),
        None => Err(Error::unauthenticated()),
    }
}

/// The organisation named at sign-in, or the only one when the server has just one.
pub async fn resolve_org(app: &App, slug: Option<&str>) -> Result<Organization> {
    let c = app.read();
    let found = match slug.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => orgs::by_slug(c, &s.to_lowercase()).await?,
        None => orgs::the_only_one(c).await?,
    };
    if found.is_none() && slug.map(str::trim).is_none_or(str::is_empty) && orgs::count(c).await? == 0 {
        return Err(Error::bad_input(
            "organization",
            "this database holds no organisation yet: make one with `meishi init`",
        ));
    }
    found.ok_or_else(|| match slug {
        Some(_) => Error::not_found("organization").with_field("organization"),
        None => Error::bad_input("organization", "this server has several organisations: name yours"),
    })
}

/// A sign-in attempt: what was typed, and from where.
pub struct Attempt<'a> {
    pub org_slug: Option<&'a str>,
    pub email: &'a str,
    pub password: &'a str,
    /// The client's address (through trusted proxies), when known.
    pub client: Option<std::net::IpAddr>,
}

/// A throttle key of an attempt: (key, kind, the organisation's id if it exists, subject).
type Key = (String, &'static str, Option<String>, String);

/// Checks the password and opens a console session; returns the session secret.
///
/// Throttled (`domain::throttle`) per account — the organisation and the email as typed,
/// whether they exist or not, so the answers never tell — and per client address: the
/// attempt is counted first, under the keys' row locks (several servers count as one; an
/// attempt made while a key must wait is refused with 429 and `Retry-After`, before any
/// password is checked); a success then forgets the account's failures and its own count
/// on the address. Failures and the start of a lock are audited in a known organisation.
pub async fn sign_in(app: &App, a: Attempt<'_>) -> Result<(String, Actor)> {
    use crate::domain::throttle::ADDRESS;
    let wrong = || Error::new(crate::domain::ErrorKind::Unauthenticated, "email or password is wrong");
    for (field, text) in [
        ("organization", a.org_slug.unwrap_or("")),
        ("email", a.email),
        ("password", a.password),
    ] {
        crate::domain::no_control(field, text)?;
    }
    // An unknown organisation answers like a wrong password, after the same work: sign-in
    // tells nobody which exist.
    let org = match resolve_org(app, a.org_slug).await {
        Err(e) if e.kind == crate::domain::ErrorKind::NotFound => None,
        other => Some(other?),
    };
    let email = Email::parse("email", a.email)?;
    let org_key = match &org {
        Some(o) => o.id.clone(),
        None => format!("?{}", a.org_slug.unwrap_or("").trim().to_lowercase()),
    };
    let org_id = org.as_ref().map(|o| o.id.clone());
    let mut keys = vec![account_key(&org_key, org_id.as_deref(), email.as_str())];
    if let Some(ip) = a.client {
        keys.push((
            (format!("address:{ip}"), "address", org_id.clone(), ip.to_string()),
            ADDRESS,
        ));
    }
    let counted = count_attempt(app, &keys).await?;
    let Some(org) = org else {
        password_matches(app, a.password, None);
        return Err(wrong());
    };
    let row = store::users::by_email(app.read(), &org.id, email.as_str()).await?;
    let usable = row
        .as_ref()
        .is_some_and(|r| r.user.status == crate::domain::UserStatus::Active && !r.user.is_archive);
    let matches = password_matches(app, a.password, row.as_ref().and_then(|r| r.password_hash.as_deref()));
    if !matches || !usable {
        let target = row.as_ref().map(|r| r.user.id.clone());
        app.write(&Actor::system(&org.id), async |tx, who| {
            let after = serde_json::json!({"email": email.as_str(), "address": a.client.map(|ip| ip.to_string())});
            let target = match &target {
                Some(id) => ("user", id.as_str()),
                None => ("email", email.as_str()),
            };
            audit(tx, who, "user.sign_in_failed", target, None, Some(after)).await?;
            audit_locks(tx, who, &counted, &keys).await
        })
        .await?;
        return Err(wrong());
    }
    let row = row.expect("checked above");
    let secret = new_secret("mss_");
    let acting = actor(org.id, row);
    app.write(&acting, async |tx, who| {
        forget_attempt(tx, &counted, who.at).await?;
        let expires = who.at + Duration::days(SESSION_DAYS);
        st::insert_session(tx, who.org_id, &acting.user_id, &hash_secret(&secret), who.at, expires).await?;
        audit(tx, who, "user.sign_in", ("user", &acting.user_id), None, None).await
    })
    .await?;
    Ok((secret, acting))
}

/// Forgets the sign-in keys whose failures no longer count (a scheduler job).
pub async fn forget_old_attempts(app: &App) -> Result<u64> {
    let before = app.now() - Duration::seconds(crate::domain::throttle::WINDOW_SECS);
    app.write_at(async |tx, _| st::throttle_forget(tx, before).await).await
}

/// The throttle key of an account: the organisation (its id, or `?` and the slug typed for an
/// unknown one) and the email typed.
fn account_key(org_key: &str, org_id: Option<&str>, email: &str) -> (Key, crate::domain::throttle::Rule) {
    (
        (
            format!("account:{org_key}:{email}"),
            "account",
            org_id.map(str::to_string),
            email.to_string(),
        ),
        crate::domain::throttle::ACCOUNT,
    )
}

/// Counts an attempt on each key, under the keys' row locks, before any password is checked;
/// refused (429) while a key must wait. Returns the keys as counted.
async fn count_attempt(app: &App, keys: &[(Key, crate::domain::throttle::Rule)]) -> Result<Vec<st::Throttle>> {
    use crate::domain::throttle;
    let counted = app
        .write_at(async |tx, at| {
            let now = store::to_micros(at);
            let mut wait = 0;
            let mut counted = Vec::new();
            for ((key, kind, org_id, subject), _) in keys {
                let t = st::throttle_locked(tx, key, kind, org_id.as_deref(), subject, at).await?;
                if t.locked_until > now {
                    wait = wait.max(throttle::seconds_until(t.locked_until, now));
                }
                counted.push(t);
            }
            if wait > 0 {
                return Ok(Err(wait));
            }
            for (t, ((_, _, org_id, _), rule)) in counted.iter_mut().zip(keys) {
                t.failures = throttle::next_failures(t.failures, t.last_at, now);
                t.last_at = now;
                t.locked_until = now + rule.wait_after(t.failures) * 1_000_000;
                st::throttle_set(tx, &t.key, org_id.as_deref(), t.failures, t.last_at, t.locked_until).await?;
            }
            Ok(Ok(counted))
        })
        .await?;
    counted.map_err(Error::too_many_attempts)
}

/// After a right password: the account starts afresh; an address forgets only this attempt.
async fn forget_attempt(tx: &store::Tx, counted: &[st::Throttle], at: chrono::DateTime<chrono::Utc>) -> Result<()> {
    let now = store::to_micros(at);
    for t in counted {
        let failures = if t.kind == "account" {
            0
        } else {
            (t.failures - 1).max(0)
        };
        st::throttle_set(tx, &t.key, None, failures, now, 0).await?;
    }
    Ok(())
}

/// Audits each key this failure locked (`sign_in.lock`, once per lock).
async fn audit_locks(
    tx: &store::Tx,
    who: Who<'_>,
    counted: &[st::Throttle],
    keys: &[(Key, crate::domain::throttle::Rule)],
) -> Result<()> {
    for (t, (_, rule)) in counted.iter().zip(keys) {
        if rule.locks_at(t.failures) {
            let lock = serde_json::json!({
                "kind": t.kind, "subject": t.subject, "failures": t.failures,
                "locked_until": store::from_micros(t.locked_until),
            });
            audit(tx, who, "sign_in.lock", ("sign_in_lock", &t.id), None, Some(lock)).await?;
        }
    }
    Ok(())
}

/// Checks a signed-in user's own password (to change it): counted on their account's
/// sign-in throttle like a sign-in, so a borrowed session cannot try passwords one after
/// another. A wrong one is a 400 naming `current_password`, audited.
pub async fn check_current_password(
    app: &App,
    actor: &Actor,
    email: &str,
    hash: Option<&str>,
    password: &str,
) -> Result<()> {
    let keys = [account_key(&actor.org_id, Some(&actor.org_id), email)];
    let counted = count_attempt(app, &keys).await?;
    let right = password_matches(app, password, hash);
    app.write(actor, async |tx, who| {
        if right {
            return forget_attempt(tx, &counted, who.at).await;
        }
        let after = serde_json::json!({"email": email, "current_password": true});
        audit(
            tx,
            who,
            "user.sign_in_failed",
            ("user", &actor.user_id),
            None,
            Some(after),
        )
        .await?;
        audit_locks(tx, who, &counted, &keys).await
    })
    .await?;
    if right {
        Ok(())
    } else {
        Err(Error::unprocessable("the current password is wrong").with_field("current_password"))
    }
}

/// A sign-in lock or wait of the organisation, as an admin sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SignInLock {
    pub id: String,
    /// `account` (an email typed at sign-in, whether such a user exists or not) or `address`
    /// (a client address that last tried this organisation).
    pub kind: String,
    /// The email or the address.
    pub subject: String,
    /// Failed attempts in a row.
    pub failures: i64,
    /// No attempt is accepted before this moment.
    pub locked_until: chrono::DateTime<chrono::Utc>,
}

/// The organisation's sign-in locks and waits now in force (admins).
pub async fn locks(app: &App, actor: &Actor) -> Result<Vec<SignInLock>> {
    actor.require_admin()?;
    let rows = st::throttles_of_org(app.read(), &actor.org_id, app.now()).await?;
    Ok(rows
        .into_iter()
        .map(|t| SignInLock {
            id: t.id,
            kind: t.kind,
            subject: t.subject,
            failures: t.failures,
            locked_until: store::from_micros(t.locked_until),
        })
        .collect())
}

/// Lifts a sign-in lock of the organisation (admins): its failures are forgotten. Audited.
pub async fn lift_lock(app: &App, actor: &Actor, id: &str) -> Result<()> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let t = st::throttle_lift(tx, &actor.org_id, id)
            .await?
            .ok_or_else(|| Error::not_found("sign-in lock"))?;
        let before = serde_json::json!({
            "kind": t.kind, "subject": t.subject, "failures": t.failures,
            "locked_until": store::from_micros(t.locked_until),
        });
        audit(tx, who, "sign_in.unlock", ("sign_in_lock", &t.id), Some(before), None).await
    })
    .await
}

pub async fn sign_out(app: &App, session: &str) -> Result<()> {
    app.write_at(async |tx, at| {
        if let Some((org_id, user_id)) = st::delete_session(tx, &hash_secret(session)).await? {
            let who = Who {
                org_id: &org_id,
                actor_id: Some(&user_id),
                at,
            };
            audit(tx, who, "user.sign_out", ("user", &user_id), None, None).await?;
        }
        Ok(())
    })
    .await
}

/// A new API token for a user (from the command line); only its hash is kept.
pub async fn create_token(app: &App, org_slug: Option<&str>, email: &str, name: &str) -> Result<String> {
    let org = resolve_org(app, org_slug).await?;
    let email = Email::parse("email", email)?;
    let row = store::users::by_email(app.read(), &org.id, email.as_str())
        .await?
        .ok_or_else(|| Error::not_found("user").with_field("email"))?;
    if row.user.status != crate::domain::UserStatus::Active || row.user.is_archive {
        return Err(Error::unprocessable("tokens can only be issued to active users").with_field("email"));
    }
    let name = crate::domain::required_text("name", name, 100)?;
    let secret = new_secret("msh_");
    app.write(&Actor::system(&org.id), async |tx, who| {
        let id = st::insert_token(tx, &org.id, &row.user.id, &name, &hash_secret(&secret), who.at).await?;
        let after = serde_json::json!({"user_id": row.user.id, "name": name});
        audit(tx, who, "token.create", ("api_token", &id), None, Some(after)).await
    })
    .await?;
    Ok(secret)
}
