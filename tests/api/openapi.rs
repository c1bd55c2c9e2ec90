//! The served OpenAPI document holds what a client generator needs: every answer described,
//! the shared error answers listed, every reference resolved, one schema per name. (The
//! document is held to the server both ways by tests/schemathesis and tests/openapi.)

use crate::harness::*;
use serde_json::Value;
use std::collections::BTreeSet;

fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                out.insert(r.to_string());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_describes_every_answer_and_resolves_every_reference() {
    let t = spawn().await;
    let doc: Value = reqwest::get(format!("{}/api/openapi.json", t.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let label = format!("{} {path}", method.to_uppercase());
            let responses = op["responses"].as_object().unwrap();
            for (status, r) in responses {
                let described = r["description"].as_str().is_some_and(|d| !d.is_empty());
                assert!(described, "{label} {status} has no description");
                if status.starts_with('4') {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                        "{label} {status}"
                    );
                }
            }
            assert!(responses.contains_key("400"), "{label}: 400");
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(responses.contains_key("401"), "{label}: 401");
            }
            if secured && method != "get" {
                assert!(
                    responses.contains_key("403"),
                    "{label}: 403 (a cross-site cookie request)"
                );
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{label}: 404");
            }
            if op.get("requestBody").is_some() {
                assert!(responses.contains_key("413"), "{label}: 413");
            }
        }
    }
    assert!(operations > 70, "{operations} operations");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut found = BTreeSet::new();
    refs(&doc, &mut found);
    for r in found {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(&r);
        assert!(schemas.contains_key(name), "{r} names no schema");
    }
    // Two types of one name used to share a schema (the transfer's dry run was documented as
    // a mail preview, the organisation's settings as the mail settings).
    for name in [
        "TransferPreview",
        "SendPreview",
        "OrganizationPatch",
        "MailSettingsPatch",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    assert_eq!(
        doc["paths"]["/api/v1/transfers"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/TransferPreview"
    );
    assert!(schemas["OrganizationPatch"]["properties"].get("time_zone").is_some());
    // Cards carry their tags by name.
    assert_eq!(
        schemas["Card"]["properties"]["tags"]["items"]["$ref"],
        "#/components/schemas/CardTag"
    );
    assert_eq!(
        schemas["Page_Card"]["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/Card"
    );
}
