//! The unit of work (`App::write`): what it commits, what it rolls back, and that a read of
//! stored text that does not parse is an error, never a silent default.

use crate::harness::*;
use meishi::domain::model::User;
use meishi::domain::{Error, Role};
use meishi::service::Actor;
use reqwest::StatusCode;
use serde_json::json;

fn new_user(email: &str) -> User {
    User::new(
        meishi::store::new_id(),
        email,
        "取消 太郎",
        Role::Member,
        chrono::Utc::now(),
    )
}

#[tokio::test]
async fn a_failed_unit_of_work_leaves_nothing_and_a_panicking_one_too() {
    let t = spawn().await;
    let org = t.org("uow").await;
    let orgs = t.get(&org.admin, "/api/v1/organization").await.1;
    let actor = Actor::system(orgs["id"].as_str().unwrap());

    // Ok commits.
    let kept = new_user("kept@uow.example.jp");
    t.app
        .write(&actor, async |tx, who| {
            meishi::store::users::insert(tx, who.org_id, &kept, None).await
        })
        .await
        .expect("committed");
    assert_eq!(
        t.get(&org.admin, &format!("/api/v1/users/{}", kept.id)).await.0,
        StatusCode::OK
    );

    // Err rolls back what was written before it.
    let lost = new_user("lost@uow.example.jp");
    let err = t
        .app
        .write(&actor, async |tx, who| {
            meishi::store::users::insert(tx, who.org_id, &lost, None).await?;
            Err::<(), _>(Error::conflict("changed my mind"))
        })
        .await
        .unwrap_err();
    assert_eq!(err.message, "changed my mind");
    assert_eq!(
        t.get(&org.admin, &format!("/api/v1/users/{}", lost.id)).await.0,
        StatusCode::NOT_FOUND
    );

    // A panic rolls back too, and the panic goes on to the caller.
    let app = t.app.clone();
    let (a, panicked) = (actor.clone(), new_user("panic@uow.example.jp"));
    let id = panicked.id.clone();
    let kept_id = kept.id.clone();
    let joined = tokio::spawn(async move {
        app.write(&a, async |tx, who| {
            meishi::store::users::insert(tx, who.org_id, &panicked, None).await?;
            meishi::store::exec(
                tx,
                "UPDATE users SET display_name = ? WHERE id = ?",
                vec!["ロック中".into(), kept_id.as_str().into()],
            )
            .await?;
            if who.org_id.is_empty() {
                return Ok(());
            }
            panic!("a bug in a use case");
        })
        .await
    })
    .await;
    assert!(joined.unwrap_err().is_panic());
    assert_eq!(
        t.get(&org.admin, &format!("/api/v1/users/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    // The row the panicking unit updated is free again: the next writer gets it at once.
    let (s, u) = t
        .call(
            &org.admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{}", kept.id),
            Some(json!({"display_name": "次 太郎"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["display_name"], "次 太郎");
}

#[tokio::test]
async fn stored_text_that_does_not_parse_is_an_error_not_a_default() {
    let t = spawn().await;
    let org = t.org("loud").await;
    let (leaver, _) = t.user(&org, "leaver@loud.example.jp", "退職 予定", "member").await;
    let (successor, _) = t.user(&org, "next@loud.example.jp", "後任 者", "member").await;
    let day = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let (s, d) = t
        .post(
            &org.admin,
            "/api/v1/departures",
            json!({"user_id": leaver, "retirement_date": day, "last_working_day": day, "successor_id": successor}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let id = d["id"].as_str().unwrap();
    let path = format!("/api/v1/departures/{id}");
    assert_eq!(t.get(&org.admin, &path).await.0, StatusCode::OK);

    for (column, bad) in [
        ("status", "paused"),
        ("plan_status", "maybe"),
        ("last_working_day", "someday"),
    ] {
        let before = t.get(&org.admin, &path).await.1[column].clone();
        meishi::store::exec(
            t.app.store.conn(),
            &format!("UPDATE departures SET {column} = ? WHERE id = ?"),
            vec![bad.into(), id.into()],
        )
        .await
        .unwrap();
        let (s, e) = t.get(&org.admin, &path).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{column}={bad} read as {e}");
        assert!(!e.to_string().contains(bad), "the stored text is not leaked: {e}");
        meishi::store::exec(
            t.app.store.conn(),
            &format!("UPDATE departures SET {column} = ? WHERE id = ?"),
            vec![before.as_str().unwrap().into(), id.into()],
        )
        .await
        .unwrap();
        assert_eq!(t.get(&org.admin, &path).await.0, StatusCode::OK);
    }
}
