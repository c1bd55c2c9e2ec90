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

pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < 8 {
        return Err(Error::bad_input("password", "a password needs at least 8 characters"));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("argon2: {e}")))
}

fn password_matches(password: &str, hash: Option<&str>) -> bool {
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
    }
}

pub async fn actor_from_token(app: &App, token: &str) -> Result<Actor> {
    match st::user_by_token(app.read(), &hash_secret(token)).await? {
        Some((org, row)) => Ok(actor(org, row)),
        None => Err(Error::unauthenticated()),
    }
}

pub async fn actor_from_session(app: &App, session: &str) -> Result<Actor> {
    match st::user_by_session(app.read(), &hash_secret(session), app.now()).await? {
        Some((org, row)) => Ok(actor(org, row)),
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

/// Checks the password and opens a console session; returns the session secret.
pub async fn sign_in(app: &App, org_slug: Option<&str>, email: &str, password: &str) -> Result<(String, Actor)> {
    let wrong = || Error::new(crate::domain::ErrorKind::Unauthenticated, "email or password is wrong");
    // An unknown organisation answers like a wrong password: sign-in tells nobody which exist.
    let org = match resolve_org(app, org_slug).await {
        Err(e) if e.kind == crate::domain::ErrorKind::NotFound => return Err(wrong()),
        other => other?,
    };
    let email = Email::parse("email", email)?;
    let row = store::users::by_email(app.read(), &org.id, email.as_str()).await?;
    let usable = row
        .as_ref()
        .is_some_and(|r| r.user.status == crate::domain::UserStatus::Active && !r.user.is_archive);
    if !password_matches(password, row.as_ref().and_then(|r| r.password_hash.as_deref())) || !usable {
        return Err(wrong());
    }
    let row = row.expect("checked above");
    let secret = new_secret("mss_");
    let acting = actor(org.id, row);
    app.write(&acting, async |tx, who| {
        let expires = who.at + Duration::days(SESSION_DAYS);
        st::insert_session(tx, who.org_id, &acting.user_id, &hash_secret(&secret), who.at, expires).await?;
        audit(tx, who, "user.sign_in", ("user", &acting.user_id), None, None).await
    })
    .await?;
    Ok((secret, acting))
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
