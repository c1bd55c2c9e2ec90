//! The OpenAPI document, finished: what utoipa derives from the handlers' annotations, plus
//! what holds for every operation alike and is said once here rather than on each handler.
//!
//! The document is meant to be exact (tests/schemathesis checks it both ways: whatever it calls
//! valid is accepted, whatever it calls invalid is refused, every answer is one it lists):
//! - every answer has a `description`; an error answer has the JSON error shape;
//! - the error answers an operation can give whatever it does: 400 (a parameter, body or the
//!   URL itself is malformed, a control character anywhere in it), 401 on secured operations,
//!   403 on secured operations that change something (a session cookie from another site's
//!   page; admin-only and owner-only refusals are on each handler), 404 where the path names
//!   something, 413 where there is a JSON body (over 2 MiB);
//! - input strings (parameters, request bodies) say that control characters other than tab,
//!   CR and LF are refused, and a text that must not be empty (`minLength: 1`) that it needs a
//!   character other than white space (the server trims);
//! - rules between fields that utoipa cannot derive (`REFINEMENTS`).
//!
//! Statuses: 400 is a request the document itself calls invalid; 422 is a well-formed request
//! that a rule of the current state refuses (a date in the past, the archive account, the last
//! administrator, mail not configured, a time zone the server's database lacks); 409 a conflict
//! with the target's state.

use serde_json::{Map, Value, json};

/// Control characters other than tab, LF and CR (`domain::no_control`): C0, DEL and C1.
const CONTROLS: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";

fn no_control() -> String {
    format!("^[^{CONTROLS}]*$")
}

/// Some character that is neither white space nor a control character (the server trims).
fn non_blank() -> String {
    format!("^[^{CONTROLS}]*[^\\s{CONTROLS}][^{CONTROLS}]*$")
}

/// An address `domain::types::Email::parse` accepts: no white space, one `@`, a dot inside
/// the domain (unanchored).
const EMAIL: &str = r"[^@\s\u0000-\u001F\u007F-\u009F]+@[^@\s.\u0000-\u001F\u007F-\u009F][^@\s\u0000-\u001F\u007F-\u009F]*\.[^@\s\u0000-\u001F\u007F-\u009F]*[^@\s.\u0000-\u001F\u007F-\u009F]";

/// A domain `service::mail::update_settings` accepts (the part after an address's `@`).
const DOMAIN: &str = r"[^@\s.\u0000-\u001F\u007F-\u009F][^@\s\u0000-\u001F\u007F-\u009F]*\.[^@\s\u0000-\u001F\u007F-\u009F]*[^@\s.\u0000-\u001F\u007F-\u009F]";

/// `HH:MM` (`domain::policy::parse_time_of_day`).
const TIME: &str = r"^([01][0-9]|2[0-3]):[0-5][0-9]$";

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "created",
        "204" => "done (no body)",
        "400" => "bad input: the error names the parameter or field (`field`)",
        "401" => "sign-in required: no valid bearer token or session cookie",
        "403" => {
            "not allowed: an administrator's operation (or another user's item) for a member, or a cookie request from another site's page"
        }
        "404" => "not found in your organisation (or not yours to see)",
        "409" => "conflict with the target's current state",
        "413" => "the body is too large",
        "422" => "well-formed, but refused by a rule of the current state (the message says which)",
        "429" => "too many attempts: wait `Retry-After` seconds",
        _ => "answer",
    }
}

/// Takes utoipa's document (as JSON) and finishes it: see the module's comment.
pub fn finish(mut doc: Value) -> Value {
    let mut request_schemas: Vec<String> = Vec::new();
    let methods = ["get", "put", "post", "delete", "patch"];
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for method in methods {
                let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                    continue;
                };
                finish_operation(path, method, op, &mut request_schemas);
            }
        }
    }
    // Input types: the schemas request bodies refer to, and those they refer to in turn.
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = request_schemas.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            refs_in(schema, &mut request_schemas);
            input_strings(schema);
        }
    }
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        pages(schemas);
        for refine in REFINEMENTS {
            refine(schemas);
        }
    }
    tuples(&mut doc);
    doc
}

/// `Page<T>` (utoipa's `Page_T`) lists `T` by reference rather than a copy of it, so that a
/// client's page holds its `T`s.
fn pages(schemas: &mut Map<String, Value>) {
    let names: Vec<String> = schemas
        .keys()
        .filter_map(|n| n.strip_prefix("Page_"))
        .filter(|t| schemas.contains_key(*t))
        .map(str::to_string)
        .collect();
    for t in names {
        if let Some(items) = schemas
            .get_mut(&format!("Page_{t}"))
            .and_then(|p| p.pointer_mut("/properties/items"))
        {
            items["items"] = json!({"$ref": format!("#/components/schemas/{t}")});
        }
    }
}

/// A pair of strings (Rust's `(String, String)`, utoipa's `prefixItems` with `items: false`) as
/// an array of exactly two: the same values, in a form client generators read.
fn tuples(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("items") == Some(&Value::Bool(false))
                && let Some(Value::Array(prefix)) = map.get("prefixItems")
                && let Some(first) = prefix.first()
                && prefix.iter().all(|p| p == first)
            {
                let (first, n) = (first.clone(), prefix.len());
                map.remove("prefixItems");
                map.insert("items".into(), first);
                map.insert("minItems".into(), json!(n));
                map.insert("maxItems".into(), json!(n));
            }
            map.values_mut().for_each(tuples);
        }
        Value::Array(items) => items.iter_mut().for_each(tuples),
        _ => {}
    }
}

/// Parameters whose schema the handler's extractor does not carry: (operation, parameter,
/// schema).
fn parameter_schema(operation: &str, name: &str) -> Option<Value> {
    match (operation, name) {
        ("mail_suppressions_remove", "kind") => Some(json!({"type": "string", "enum": ["block", "opt_out", "bounce"]})),
        // `service::imports::owner_mapping`: `old=new` pairs, comma-separated, `old` an address.
        ("imports_import", "owner_mapping") => {
            let c = CONTROLS;
            let old = format!(r"[^@\s,={c}]+@[^@\s.,={c}][^@\s,={c}]*\.[^@\s,={c}]*[^@\s.,={c}]");
            // White space around a pair or an `=`, but no control character (`\s` has some).
            let pair = format!(r"[^\S{c}]*({old}[^\S{c}]*=[^,{c}]*)?");
            Some(json!({"type": "string", "pattern": format!("^{pair}(,{pair})*$")}))
        }
        _ => None,
    }
}

fn finish_operation(path: &str, method: &str, op: &mut Map<String, Value>, request_schemas: &mut Vec<String>) {
    let operation_id = op.get("operationId").and_then(Value::as_str).unwrap_or("").to_string();
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let has_body = op.contains_key("requestBody");
    if let Some(body) = op.get_mut("requestBody") {
        refs_in(body, request_schemas);
        // A body that is not JSON is a file (an import): bytes as they are, or a form with
        // the file as its `file` field.
        if let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) {
            for (media, m) in content.iter_mut() {
                if media == "multipart/form-data" {
                    m["schema"] = json!({
                        "type": "object", "required": ["file"], "additionalProperties": false,
                        "properties": {"file": {"type": "string", "format": "binary"}}
                    });
                } else if !media.ends_with("json") {
                    m["schema"] = json!({"type": "string", "format": "binary"});
                }
            }
        }
    }
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params {
            refs_in(p, request_schemas);
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(schema) = parameter_schema(&operation_id, name) {
                p["schema"] = schema;
            }
            if let Some(schema) = p.get_mut("schema") {
                input_string(schema);
            }
        }
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    let mut shared = vec!["400"];
    if secured {
        shared.push("401");
        if method != "get" {
            shared.push("403");
        }
    }
    if path.contains('{') {
        shared.push("404");
    }
    if has_body {
        shared.push("413");
    }
    for status in shared {
        responses
            .entry(status)
            .or_insert_with(|| error_response(default_description(status)));
    }
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        let described = response
            .get("description")
            .and_then(Value::as_str)
            .is_some_and(|d| !d.is_empty());
        if !described {
            response.insert("description".into(), json!(default_description(status)));
        }
    }
}

/// The component names `$ref`s in `v` point to.
fn refs_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.to_string());
            }
            map.values().for_each(|v| refs_in(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs_in(v, out)),
        _ => {}
    }
}

/// Every string an input schema holds (properties, array items, alternatives).
fn input_strings(schema: &mut Value) {
    input_string(schema);
    let Some(map) = schema.as_object_mut() else { return };
    if let Some(props) = map.get_mut("properties").and_then(Value::as_object_mut) {
        props.values_mut().for_each(input_strings);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = map.get_mut(key) {
            input_strings(v);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(alts)) = map.get_mut(key) {
            alts.iter_mut().for_each(input_strings);
        }
    }
}

/// A free-text input string refuses control characters; one that must not be empty needs a
/// character other than white space. A string with its own format, pattern or values is
/// left as it is.
fn input_string(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else { return };
    let is_string = match map.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    if !is_string
        || ["format", "pattern", "enum", "const"]
            .iter()
            .any(|k| map.contains_key(*k))
    {
        return;
    }
    let required = map.get("minLength").and_then(Value::as_u64).unwrap_or(0) > 0;
    let pattern = if required { non_blank() } else { no_control() };
    map.insert("pattern".into(), json!(pattern));
}

type Refine = fn(&mut Map<String, Value>);

/// "At least one of these properties is given and holds its schema", as nested `if`/`then`
/// (client generators keep the object one type; `anyOf` would split it): if the first is
/// not given, then at least one of the rest.
fn at_least_one(given: &[(&str, Value)]) -> Value {
    let one = |(k, s): &(&str, Value)| json!({"required": [k], "properties": {*k: s}});
    match given {
        [] => json!({}),
        [last] => one(last),
        [first, rest @ ..] => json!({"if": {"not": one(first)}, "then": at_least_one(rest)}),
    }
}

/// Rules between fields, which utoipa's derive cannot state. Each mirrors a check in the
/// domain (named beside it).
const REFINEMENTS: &[Refine] = &[
    // `CardFields::parse`: the fields' lengths, an email or nothing; a new card needs a name
    // or a company (a change that would leave none is 422: it depends on the card).
    |schemas| {
        for name in ["NewCard", "CardPatch"] {
            let Some(props) = schemas.get_mut(name).and_then(|c| c.get_mut("properties")) else {
                continue;
            };
            for (field, max) in [
                ("full_name", 200),
                ("name_reading", 200),
                ("company", 200),
                ("department", 200),
                ("title", 200),
                ("phone", 40),
                ("mobile", 40),
                ("fax", 40),
                ("postal_code", 20),
                ("address", 500),
                ("url", 500),
            ] {
                props[field]["maxLength"] = json!(max);
            }
            props["email"]["pattern"] = json!(format!(r"^([^\S{CONTROLS}]*|{EMAIL})$"));
            props["exchanged_on"]["format"] = json!("date");
        }
        if let Some(card) = schemas.get_mut("NewCard") {
            let text = json!({"type": "string", "pattern": non_blank()});
            let given = at_least_one(&[("full_name", text.clone()), ("company", text)]);
            for key in ["if", "then"] {
                card[key] = given[key].clone();
            }
        }
    },
    // `service::mail::recipients`: at least one of owner_id, tag_id, company, card_ids.
    |schemas| {
        if let Some(r) = schemas.get_mut("RecipientsInput") {
            let given = at_least_one(&[
                ("owner_id", json!({"type": "string", "minLength": 1})),
                ("tag_id", json!({"type": "string", "minLength": 1})),
                ("company", json!({"type": "string", "pattern": non_blank()})),
                ("card_ids", json!({"type": "array", "minItems": 1})),
            ]);
            for key in ["if", "then"] {
                r[key] = given[key].clone();
            }
            r["properties"]["card_ids"]["maxItems"] = json!(1000);
        }
    },
    // `service::users::update`: `current_password` goes with a new password.
    |schemas| {
        if let Some(u) = schemas.get_mut("UserPatch") {
            u["if"] = json!({"required": ["current_password"], "properties": {"current_password": {"type": "string"}}});
            u["then"] = json!({"required": ["password"], "properties": {"password": {"type": "string"}}});
        }
    },
    // `domain::policy::settings`: the organisation's settings.
    |schemas| {
        let Some(props) = schemas
            .get_mut("OrganizationPatch")
            .and_then(|c| c.get_mut("properties"))
        else {
            return;
        };
        // An IANA name (`Asia/Tokyo`); one the server's database lacks is 422. (Not an enum of
        // the database's names: some, like GMT0 and GMT+0, become one identifier in clients.)
        props["time_zone"]["examples"] = json!(["Asia/Tokyo"]);
        props["retired_suffix"]["pattern"] = json!(non_blank());
        props["retired_suffix"]["maxLength"] = json!(40);
        props["suspend_at"]["pattern"] = json!(TIME);
        props["trash_days"]["minimum"] = json!(1);
        props["trash_days"]["maximum"] = json!(3650);
        props["previous_owner_tag_format"]["pattern"] = json!(format!(r"^[^{CONTROLS}]*\{{name\}}[^{CONTROLS}]*$"));
        props["previous_owner_tag_format"]["maxLength"] = json!(80);
    },
    // `service::mail::update_settings`.
    |schemas| {
        let Some(props) = schemas
            .get_mut("MailSettingsPatch")
            .and_then(|c| c.get_mut("properties"))
        else {
            return;
        };
        props["handover_from"]["enum"] = json!(["leaver", "successor", null]);
        props["daily_limit"]["minimum"] = json!(1);
        props["daily_limit"]["maximum"] = json!(10_000_000);
        props["sending_domain"]["pattern"] = json!(format!("^(@?{DOMAIN})?$"));
        props["sending_domain"]["maxLength"] = json!(200);
    },
    // `domain::mail::TemplateText::parse`: a name, a one-line subject, a body.
    |schemas| {
        let Some(props) = schemas.get_mut("TemplateInput").and_then(|c| c.get_mut("properties")) else {
            return;
        };
        props["subject"]["pattern"] = json!(format!(r"^[^\r\n{CONTROLS}]*[^\s{CONTROLS}][^\r\n{CONTROLS}]*$"));
        props["subject"]["maxLength"] = json!(500);
        props["body"]["pattern"] = json!(non_blank());
        props["body"]["maxLength"] = json!(100_000);
        props["html_body"]["maxLength"] = json!(200_000);
    },
    // `service::mail::suppression_value`: an address on any list; on the block list also a
    // company name.
    |schemas| {
        let Some(s) = schemas.get_mut("SuppressionInput") else {
            return;
        };
        s["properties"]["kind"] = json!({"type": "string", "enum": ["block", "opt_out", "bounce"],
            "description": "block, opt_out or bounce."});
        s["properties"]["value"]["pattern"] =
            json!(format!(r"^({EMAIL}|[^@{CONTROLS}]*[^@\s{CONTROLS}][^@{CONTROLS}]*)$"));
        s["properties"]["reason"]["maxLength"] = json!(500);
        s["if"] = json!({"properties": {"kind": {"enum": ["opt_out", "bounce"]}}});
        s["then"] = json!({"properties": {"value": {"pattern": format!("^{EMAIL}$")}}});
    },
    // `domain::transfer::Selection::parse`: exactly one of `all: true`, `tag_id`, `company`,
    // `card_ids` (1 to MAX_CARD_IDS), each its own object so that clients get a type each.
    |schemas| {
        let one = |k: &str, schema: Value| json!({"type": "object", "required": [k], "properties": {k: schema}, "additionalProperties": false});
        let alternatives = [
            ("SelectAll", one("all", json!({"type": "boolean", "enum": [true]}))),
            (
                "SelectTag",
                one("tag_id", json!({"type": "string", "pattern": no_control()})),
            ),
            (
                "SelectCompany",
                one("company", json!({"type": "string", "pattern": non_blank()})),
            ),
            (
                "SelectCards",
                one(
                    "card_ids",
                    json!({"type": "array", "items": {"type": "string", "pattern": no_control()},
                        "minItems": 1, "maxItems": crate::domain::transfer::MAX_CARD_IDS}),
                ),
            ),
        ];
        let description = schemas
            .get("SelectionInput")
            .and_then(|s| s.get("description"))
            .cloned()
            .unwrap_or(Value::Null);
        let refs: Vec<Value> = alternatives
            .iter()
            .map(|(name, _)| json!({"$ref": format!("#/components/schemas/{name}")}))
            .collect();
        schemas.insert(
            "SelectionInput".into(),
            json!({"description": description, "oneOf": refs}),
        );
        for (name, schema) in alternatives {
            schemas.insert(name.into(), schema);
        }
    },
];

/// A string parameter that takes one of `values` (for `#[param(schema_with = …)]`).
fn one_of(values: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// `service::departures::list`'s statuses ("" is none given: every departure).
pub fn departure_status() -> utoipa::openapi::Object {
    one_of(&[
        "upcoming",
        "planned",
        "overdue",
        "needs_action",
        "done",
        "cancelled",
        "",
    ])
}

/// `domain::person::NewsKind` ("" is none given).
pub fn news_kind() -> utoipa::openapi::Object {
    one_of(&["personnel", "contact", ""])
}

/// `domain::person::NewsStatus`, or every one ("" is none given: open).
pub fn news_status() -> utoipa::openapi::Object {
    one_of(&["open", "applied", "dismissed", "all", ""])
}

/// `service::mail`'s suppression lists.
pub fn suppression_kind() -> utoipa::openapi::Object {
    one_of(&["block", "opt_out", "bounce"])
}

/// `formats::TextEncoding::parse` (its spellings, any case).
pub fn encoding() -> utoipa::openapi::Object {
    one_of(&["auto", "utf-8", "utf8", "shift_jis", "sjis", "cp932", "windows-31j"])
}

/// A listing's answer as JSON or CSV.
pub fn json_or_csv() -> utoipa::openapi::Object {
    one_of(&["json", "csv"])
}

/// A string parameter matching `pattern`.
fn matching(pattern: &str) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(pattern))
        .build()
}

const UUID: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/// The `cursor` of most listings: empty, or the last id of the previous page
/// (`store::parse_cursor`).
pub fn id_cursor() -> utoipa::openapi::Object {
    matching(&format!("^({UUID})?$"))
}

/// The card listing's `cursor`: the last card's id and its sort key (`service::cards`).
pub fn card_cursor() -> utoipa::openapi::Object {
    matching(&format!("^({UUID}[^{CONTROLS}]*)?$"))
}

/// The departures' `cursor`: how many came before (`service::departures::list`).
pub fn offset_cursor() -> utoipa::openapi::Object {
    matching(r"^(\+?[0-9]{1,19})?$")
}
