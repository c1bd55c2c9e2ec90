//! SCIM 2.0 (RFC 7643/7644) as meishi understands it: the identity provider as an actor, the
//! User resource meishi keeps (core schema and the enterprise extension), a PATCH applied to
//! that resource, a filter turned into a condition the store runs, and the departure an
//! identity provider's deprovisioning opens. Pure: no I/O, the time is passed in.
//!
//! Grammar: the `scim_v2` crate (chosen in the brief and kept: maintained, RFC 7644 filters
//! and PATCH paths from a lalrpop grammar with depth and size limits, PatchOp accepting the
//! capitalised ops Entra sends) parses every filter, PATCH path and PATCH message. Nothing here
//! parses a filter by hand; this module decides what the parsed trees mean for meishi's users.
//!
//! Attribute names are case-insensitive (RFC 7643 §2.1): every name a client sends is mapped
//! to its canonical spelling through `SCHEMA` before it is used.

use super::departure::{Departure, DepartureKind, DepartureStatus, PlanStatus};
use super::policy::Policy;
use super::{DepartureId, Error, ErrorKind, Result, UserId};
use chrono::{DateTime, Utc};
use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, PatchPath, ValFilter};
use scim_v2::models::others::{OperationTarget, PatchOperation};
use serde_json::{Map, Value, json};

pub const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The most resources one list answers (ServiceProviderConfig `filter.maxResults`).
pub const MAX_RESULTS: u64 = 1000;

/// The audit actor of an identity provider: `scim:` and the id of the token it used. The
/// console shows it as the identity provider; a departure it opened keeps it as its creator.
pub fn idp_actor(token_id: &str) -> String {
    format!("scim:{token_id}")
}

pub fn is_idp_actor(id: &str) -> bool {
    id.starts_with("scim:")
}

/// A SCIM error: the domain error with its `scimType` (RFC 7644 §3.12) in its details.
pub fn error(kind: ErrorKind, scim_type: &str, message: impl Into<String>) -> Error {
    Error::new(kind, message).with_details(json!({ "scimType": scim_type }))
}

pub fn bad(scim_type: &str, message: impl Into<String>) -> Error {
    error(ErrorKind::BadInput, scim_type, message)
}

/// The `scimType` of an error, when it has one.
pub fn scim_type(e: &Error) -> Option<&str> {
    e.details.as_ref()?.get("scimType")?.as_str()
}

// ---------------------------------------------------------------------------------------------
// The schema meishi keeps

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Text,
    Bool,
    /// A complex attribute with these sub-attributes (all text, `primary` a boolean).
    Complex(&'static [&'static str]),
    /// A multi-valued complex attribute.
    Multi(&'static [&'static str]),
}

/// One attribute: its schema (core or enterprise), canonical name, kind, whether a client may
/// write it.
pub struct Attr {
    pub schema: &'static str,
    pub name: &'static str,
    pub kind: Kind,
    pub writable: bool,
    pub description: &'static str,
}

const NAME_SUBS: &[&str] = &["formatted", "familyName", "givenName"];
const EMAIL_SUBS: &[&str] = &["value", "type", "primary"];
const MANAGER_SUBS: &[&str] = &["value", "displayName", "$ref"];

pub const SCHEMA: &[Attr] = &[
    Attr {
        schema: CORE,
        name: "id",
        kind: Kind::Text,
        writable: false,
        description: "meishi's user id",
    },
    Attr {
        schema: CORE,
        name: "externalId",
        kind: Kind::Text,
        writable: true,
        description: "the identity provider's id",
    },
    Attr {
        schema: CORE,
        name: "userName",
        kind: Kind::Text,
        writable: true,
        description: "unique in the organisation (case-insensitive)",
    },
    Attr {
        schema: CORE,
        name: "name",
        kind: Kind::Complex(NAME_SUBS),
        writable: true,
        description: "the user's name",
    },
    Attr {
        schema: CORE,
        name: "displayName",
        kind: Kind::Text,
        writable: true,
        description: "the name meishi shows",
    },
    Attr {
        schema: CORE,
        name: "title",
        kind: Kind::Text,
        writable: true,
        description: "job title",
    },
    Attr {
        schema: CORE,
        name: "active",
        kind: Kind::Bool,
        writable: true,
        description: "false suspends the user and opens a departure needing action",
    },
    Attr {
        schema: CORE,
        name: "emails",
        kind: Kind::Multi(EMAIL_SUBS),
        writable: true,
        description: "the primary (or first) one is the user's address",
    },
    Attr {
        schema: CORE,
        name: "meta",
        kind: Kind::Text,
        writable: false,
        description: "",
    },
    Attr {
        schema: CORE,
        name: "schemas",
        kind: Kind::Text,
        writable: false,
        description: "",
    },
    Attr {
        schema: ENTERPRISE,
        name: "employeeNumber",
        kind: Kind::Text,
        writable: true,
        description: "employee number",
    },
    Attr {
        schema: ENTERPRISE,
        name: "department",
        kind: Kind::Text,
        writable: true,
        description: "department",
    },
    Attr {
        schema: ENTERPRISE,
        name: "manager",
        kind: Kind::Complex(MANAGER_SUBS),
        writable: true,
        description: "the successor of a departure this user's deprovisioning opens, if a user",
    },
];

/// The attribute a client names (`uri` an optional schema URN), case-insensitively.
fn attr(uri: Option<&str>, name: &str) -> Option<&'static Attr> {
    let schema = match uri {
        None => None,
        Some(u) if u.eq_ignore_ascii_case(CORE) => Some(CORE),
        Some(u) if u.eq_ignore_ascii_case(ENTERPRISE) => Some(ENTERPRISE),
        Some(_) => return None,
    };
    SCHEMA
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name) && schema.is_none_or(|s| s == a.schema))
}

fn sub_name(kind: Kind, sub: &str) -> Option<&'static str> {
    match kind {
        Kind::Complex(subs) | Kind::Multi(subs) => subs.iter().copied().find(|s| s.eq_ignore_ascii_case(sub)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The resource: what a client sends, cleaned

/// A User resource as meishi keeps it: only the attributes of `SCHEMA`, each under its
/// canonical name, the enterprise ones in an object under `ENTERPRISE`; `active` a boolean.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resource(pub Map<String, Value>);

/// What meishi's user takes from a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFields {
    pub user_name: String,
    pub external_id: Option<String>,
    /// The name meishi shows (displayName, else name.formatted, else family and given name,
    /// else the userName).
    pub display_name: String,
    /// The primary (else the first) e-mail address, as sent.
    pub email: Option<String>,
    /// None when the resource does not say (an Okta PUT leaves `active` out: nothing changes).
    pub active: Option<bool>,
    /// The enterprise manager's id.
    pub manager: Option<String>,
}

/// A boolean as identity providers send it: `false`, or Entra's `"False"`.
fn boolean(field: &str, v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(bad("invalidValue", format!("{field} must be a boolean"))),
    }
}

fn text(field: &str, v: &Value) -> Result<Value> {
    match v {
        Value::String(s) if s.chars().count() <= 1000 => Ok(Value::String(s.clone())),
        Value::String(_) => Err(bad("invalidValue", format!("{field} is longer than 1000 characters"))),
        Value::Null => Ok(Value::Null),
        _ => Err(bad("invalidValue", format!("{field} must be a string"))),
    }
}

/// A complex value's sub-attributes under their canonical names; unknown ones are dropped
/// (identity providers send more than meishi keeps).
fn complex(field: &str, subs: &'static [&'static str], v: &Value) -> Result<Value> {
    let Value::Object(m) = v else {
        return Err(bad("invalidValue", format!("{field} must be an object")));
    };
    let mut out = Map::new();
    for (k, v) in m {
        let Some(sub) = subs.iter().copied().find(|s| s.eq_ignore_ascii_case(k)) else {
            continue;
        };
        let value = if sub == "primary" {
            Value::Bool(boolean(&format!("{field}.{sub}"), v)?)
        } else {
            text(&format!("{field}.{sub}"), v)?
        };
        if !value.is_null() {
            out.insert(sub.to_string(), value);
        }
    }
    Ok(Value::Object(out))
}

/// One attribute's value checked against its kind.
fn value_of(a: &Attr, v: &Value) -> Result<Value> {
    match a.kind {
        Kind::Text => text(a.name, v),
        Kind::Bool => boolean(a.name, v).map(Value::Bool),
        Kind::Complex(subs) => {
            // Entra sends the manager as its id alone.
            if a.name == "manager"
                && let Value::String(s) = v
            {
                return Ok(json!({ "value": s }));
            }
            complex(a.name, subs, v)
        }
        Kind::Multi(subs) => match v {
            Value::Array(items) => items
                .iter()
                .map(|i| complex(a.name, subs, i))
                .collect::<Result<Vec<_>>>()
                .map(Value::Array),
            Value::Null => Ok(Value::Null),
            one => Ok(Value::Array(vec![complex(a.name, subs, one)?])),
        },
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

impl Resource {
    /// The resource a POST or PUT body describes: the known attributes, checked; unknown
    /// ones and read-only ones (id, meta, schemas) are ignored as RFC 7644 §3.3 and §3.5.1 allow.
    pub fn from_body(body: &Value) -> Result<Resource> {
        let Value::Object(m) = body else {
            return Err(bad("invalidSyntax", "the body must be a JSON object"));
        };
        let mut r = Resource::default();
        for (k, v) in m {
            if k.eq_ignore_ascii_case(ENTERPRISE) {
                let Value::Object(ext) = v else {
                    return Err(bad("invalidValue", format!("{ENTERPRISE} must be an object")));
                };
                for (k, v) in ext {
                    if let Some(a) = attr(Some(ENTERPRISE), k) {
                        r.put(a, None, v.clone(), false)?;
                    }
                }
            } else if let Some(a) = attr(Some(CORE), k).filter(|a| a.writable) {
                r.put(a, None, v.clone(), false)?;
            }
        }
        Ok(r)
    }

    fn slot(&mut self, a: &Attr) -> &mut Map<String, Value> {
        if a.schema == ENTERPRISE {
            let ext = self
                .0
                .entry(ENTERPRISE.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !ext.is_object() {
                *ext = Value::Object(Map::new());
            }
            ext.as_object_mut().expect("an object")
        } else {
            &mut self.0
        }
    }

    fn get(&self, a: &Attr) -> Option<&Value> {
        if a.schema == ENTERPRISE {
            self.0.get(ENTERPRISE)?.get(a.name)
        } else {
            self.0.get(a.name)
        }
    }

    fn tidy(&mut self) {
        if self.0.get(ENTERPRISE).is_some_and(is_empty) {
            self.0.remove(ENTERPRISE);
        }
    }

    /// Sets `a` (or its sub-attribute `sub`) to `v`; `add` appends to a multi-valued
    /// attribute and merges into a complex one (RFC 7644 §3.5.2.1), replace replaces a
    /// multi-valued one and merges into a complex one (§3.5.2.3). A null or empty value removes.
    fn put(&mut self, a: &Attr, sub: Option<&str>, v: Value, add: bool) -> Result<()> {
        if !a.writable {
            return Err(bad("mutability", format!("{} is read-only", a.name)));
        }
        let name = a.name;
        match (a.kind, sub) {
            (_, Some(s)) => {
                let Some(s) = sub_name(a.kind, s) else {
                    return Err(bad("invalidPath", format!("{name} has no sub-attribute {s}")));
                };
                let one = value_of(a, &json!({ s: v }))?;
                let slot = self.slot(a);
                match a.kind {
                    Kind::Multi(_) => {
                        let items = slot.entry(name).or_insert_with(|| Value::Array(vec![]));
                        match items.as_array_mut() {
                            Some(list) if !list.is_empty() => {
                                for item in list.iter_mut() {
                                    merge(item, &one);
                                }
                            }
                            _ => *items = Value::Array(vec![one]),
                        }
                    }
                    _ => {
                        let current = slot.entry(name).or_insert_with(|| Value::Object(Map::new()));
                        merge(current, &one);
                    }
                }
            }
            (Kind::Multi(_), None) => {
                let new = value_of(a, &v)?;
                let slot = self.slot(a);
                match (add, slot.get_mut(name), new) {
                    (true, Some(Value::Array(list)), Value::Array(more)) => list.extend(more),
                    (_, _, new) => {
                        slot.insert(name.to_string(), new);
                    }
                }
            }
            (Kind::Complex(_), None) => {
                let new = value_of(a, &v)?;
                let slot = self.slot(a);
                match slot.get_mut(name) {
                    Some(current) if current.is_object() && !new.is_null() => merge(current, &new),
                    _ => {
                        slot.insert(name.to_string(), new);
                    }
                }
            }
            (_, None) => {
                let new = value_of(a, &v)?;
                self.slot(a).insert(name.to_string(), new);
            }
        }
        let slot = self.slot(a);
        if slot.get(name).is_some_and(is_empty) {
            slot.remove(name);
        }
        self.tidy();
        Ok(())
    }

    fn remove(&mut self, a: &Attr, sub: Option<&str>) -> Result<()> {
        if !a.writable {
            return Err(bad("mutability", format!("{} is read-only", a.name)));
        }
        let name = a.name;
        let slot = self.slot(a);
        match sub {
            None => {
                slot.remove(name);
            }
            Some(s) => {
                let Some(s) = sub_name(a.kind, s) else {
                    return Err(bad("invalidPath", format!("{name} has no sub-attribute {s}")));
                };
                match slot.get_mut(name) {
                    Some(Value::Array(items)) => items.iter_mut().for_each(|i| {
                        i.as_object_mut().map(|o| o.remove(s));
                    }),
                    Some(Value::Object(o)) => {
                        o.remove(s);
                    }
                    _ => {}
                }
                if slot.get(name).is_some_and(is_empty) {
                    slot.remove(name);
                }
            }
        }
        self.tidy();
        Ok(())
    }

    /// What meishi's user takes from the resource; userName is required.
    pub fn fields(&self) -> Result<UserFields> {
        let s = |a: &str| self.get(attr(None, a).expect("in SCHEMA")).and_then(Value::as_str);
        let user_name = s("userName")
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| bad("invalidValue", "userName is required"))?
            .to_string();
        let name = self.0.get("name");
        let part = |p: &str| name.and_then(|n| n.get(p)).and_then(Value::as_str).map(str::trim);
        let joined = [part("familyName"), part("givenName")]
            .into_iter()
            .flatten()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let display_name = [
            s("displayName").map(str::trim),
            part("formatted"),
            Some(joined.as_str()),
        ]
        .into_iter()
        .flatten()
        .find(|n| !n.is_empty())
        .unwrap_or(user_name.as_str())
        .chars()
        .take(200)
        .collect();
        let emails = self.0.get("emails").and_then(Value::as_array);
        let email = emails
            .and_then(|l| {
                l.iter()
                    .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                    .or_else(|| l.first())
            })
            .and_then(|e| e.get("value"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let manager = self
            .0
            .get(ENTERPRISE)
            .and_then(|e| e.get("manager"))
            .and_then(|m| m.get("value"))
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        Ok(UserFields {
            user_name,
            external_id: s("externalId").filter(|e| !e.is_empty()).map(str::to_string),
            display_name,
            email,
            active: self.0.get("active").and_then(Value::as_bool),
            manager,
        })
    }

    /// The stored form (without `active`, which is the user's status, and `id`).
    pub fn stored(&self) -> String {
        let mut m = self.0.clone();
        m.remove("active");
        Value::Object(m).to_string()
    }

    pub fn from_stored(text: &str) -> Result<Resource> {
        match serde_json::from_str(text) {
            Ok(Value::Object(m)) => Ok(Resource(m)),
            _ => Err(Error::internal("a stored SCIM resource is not a JSON object")),
        }
    }

    /// The resource meishi answers with: the stored attributes, the user's id, status and times.
    pub fn representation(&self, id: &str, active: bool, meta: Meta<'_>) -> Value {
        let mut m = self.0.clone();
        m.insert("id".into(), json!(id));
        m.insert("active".into(), json!(active));
        let mut schemas = vec![json!(CORE)];
        if m.contains_key(ENTERPRISE) {
            schemas.push(json!(ENTERPRISE));
        }
        m.insert("schemas".into(), Value::Array(schemas));
        m.insert(
            "meta".into(),
            json!({
                "resourceType": "User",
                "created": meta.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "lastModified": meta.modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "location": meta.location,
                "version": format!("W/\"{}\"", meta.modified.timestamp_micros()),
            }),
        );
        Value::Object(m)
    }

    /// A user meishi has but no identity provider wrote: userName and the address are the
    /// e-mail, displayName the name without the retired suffix.
    pub fn of_user(email: &str, display_name: &str) -> Resource {
        let mut m = Map::new();
        m.insert("userName".into(), json!(email));
        m.insert("displayName".into(), json!(display_name));
        m.insert(
            "emails".into(),
            json!([{ "value": email, "type": "work", "primary": true }]),
        );
        Resource(m)
    }

    pub fn set_active(&mut self, active: bool) {
        self.0.insert("active".into(), Value::Bool(active));
    }

    /// Applies a PATCH's operations in order (RFC 7644 §3.5.2), with what Entra and Okta
    /// send: no path and a value object whose keys may be dotted (`name.givenName`) or carry
    /// the schema URN (`urn:…:enterprise:2.0:User:department`).
    pub fn patch(&mut self, ops: &[PatchOperation]) -> Result<()> {
        for op in ops {
            match op {
                PatchOperation::Add(t) => self.apply(t, true)?,
                PatchOperation::Replace(t) => self.apply(t, false)?,
                PatchOperation::Remove { path, .. } => self.remove_at(path)?,
            }
        }
        Ok(())
    }

    fn apply(&mut self, target: &OperationTarget, add: bool) -> Result<()> {
        match target {
            OperationTarget::WithoutPath { value } => {
                for (k, v) in value {
                    if k.eq_ignore_ascii_case(ENTERPRISE) || k.eq_ignore_ascii_case(CORE) {
                        let Value::Object(inner) = v else {
                            return Err(bad("invalidValue", format!("{k} must be an object")));
                        };
                        let uri = if k.eq_ignore_ascii_case(CORE) { CORE } else { ENTERPRISE };
                        for (k, v) in inner {
                            let path = key_path(k.as_str())?;
                            self.set_path(Some(uri), &path, v.clone(), add)?;
                        }
                    } else {
                        let path = key_path(k.as_str())?;
                        self.set_path(path.uri.as_deref(), &path, v.clone(), add)?;
                    }
                }
                Ok(())
            }
            OperationTarget::WithPath { path, value } => {
                let v = value
                    .clone()
                    .ok_or_else(|| bad("invalidValue", "the operation has no value"))?;
                match path {
                    PatchPath::Attr(p) => self.set_path(p.uri.as_deref(), p, v, add),
                    PatchPath::Value(vp) => {
                        let a = known(&vp.attr)?;
                        self.set_filtered(a, &vp.filter, vp.sub_attr.as_deref(), v)
                    }
                }
            }
        }
    }

    fn set_path(&mut self, uri: Option<&str>, p: &AttrPath, v: Value, add: bool) -> Result<()> {
        if is_extension(p) {
            // The whole enterprise extension: its attributes one by one.
            let Value::Object(inner) = v else {
                return Err(bad("invalidValue", format!("{ENTERPRISE} takes an object")));
            };
            // (A client may echo the object's `schemas`, as in a resource.)
            for (k, v) in inner.into_iter().filter(|(k, _)| !k.eq_ignore_ascii_case("schemas")) {
                let a = attr(Some(ENTERPRISE), &k).ok_or_else(|| unknown(&k))?;
                self.put(a, None, v, add)?;
            }
            return Ok(());
        }
        let a = attr(uri, &p.name).ok_or_else(|| unknown(&p.name))?;
        self.put(a, p.sub_attr.as_deref(), v, add)
    }

    /// `emails[type eq "work"].value`: sets the sub-attribute on the items the filter selects,
    /// or adds an item the filter describes when none matches (Entra's first address).
    fn set_filtered(&mut self, a: &Attr, f: &ValFilter, sub: Option<&str>, v: Value) -> Result<()> {
        let Kind::Multi(subs) = a.kind else {
            return Err(bad("invalidPath", format!("{} is not multi-valued", a.name)));
        };
        let new = match sub {
            Some(s) => {
                let s = sub_name(a.kind, s).ok_or_else(|| bad("invalidPath", format!("no sub-attribute {s}")))?;
                complex(a.name, subs, &json!({ s: v }))?
            }
            None => complex(a.name, subs, &v)?,
        };
        let slot = self.slot(a);
        let items = slot.entry(a.name).or_insert_with(|| Value::Array(vec![]));
        if !items.is_array() {
            *items = Value::Array(vec![]);
        }
        let list = items.as_array_mut().expect("an array");
        let mut hit = false;
        for item in list.iter_mut() {
            if val_matches(f, item)? {
                merge(item, &new);
                hit = true;
            }
        }
        if !hit {
            let mut item = described(f);
            merge(&mut item, &new);
            list.push(item);
        }
        Ok(())
    }

    fn remove_at(&mut self, path: &PatchPath) -> Result<()> {
        match path {
            PatchPath::Attr(p) if is_extension(p) => {
                self.0.remove(ENTERPRISE);
                Ok(())
            }
            PatchPath::Attr(p) => {
                let a = known(p)?;
                if a.name == "active" {
                    return Err(bad(
                        "invalidValue",
                        "active cannot be removed: a meishi user is always active or suspended",
                    ));
                }
                self.remove(a, p.sub_attr.as_deref())
            }
            PatchPath::Value(vp) => {
                let a = known(&vp.attr)?;
                if !a.writable {
                    return Err(bad("mutability", format!("{} is read-only", a.name)));
                }
                let sub = vp.sub_attr.as_deref().map(|s| sub_name(a.kind, s).unwrap_or("-"));
                let slot = self.slot(a);
                if let Some(Value::Array(list)) = slot.get_mut(a.name) {
                    let mut kept = Vec::new();
                    for mut item in list.drain(..) {
                        if val_matches(&vp.filter, &item)? {
                            match sub {
                                None => continue,
                                Some(s) => {
                                    item.as_object_mut().map(|o| o.remove(s));
                                }
                            }
                        }
                        kept.push(item);
                    }
                    *list = kept;
                }
                if slot.get(a.name).is_some_and(is_empty) {
                    slot.remove(a.name);
                }
                self.tidy();
                Ok(())
            }
        }
    }
}

pub struct Meta<'a> {
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub location: &'a str,
}

/// Whether a path names the enterprise extension as a whole (the grammar reads its last
/// segment, `User`, as the attribute name).
fn is_extension(p: &AttrPath) -> bool {
    p.sub_attr.is_none()
        && p.uri
            .as_deref()
            .is_some_and(|u| format!("{u}:{}", p.name).eq_ignore_ascii_case(ENTERPRISE))
}

fn unknown(name: &str) -> Error {
    bad("invalidPath", format!("meishi's User has no attribute {name}"))
}

fn known(p: &AttrPath) -> Result<&'static Attr> {
    attr(p.uri.as_deref(), &p.name).ok_or_else(|| unknown(&p.name))
}

/// A value object's key as an attribute path (`name.givenName`, `urn:…:User:department`),
/// read by the crate's grammar.
fn key_path(key: &str) -> Result<AttrPath> {
    match key.parse::<PatchPath>() {
        Ok(PatchPath::Attr(p)) => Ok(p),
        _ => Err(bad("invalidPath", format!("{key} is not an attribute name"))),
    }
}

fn merge(into: &mut Value, from: &Value) {
    match (into.as_object_mut(), from.as_object()) {
        (Some(a), Some(b)) => {
            for (k, v) in b {
                a.insert(k.clone(), v.clone());
            }
        }
        _ => *into = from.clone(),
    }
}

/// The item an `eq` filter describes (`type eq "work"` → `{"type":"work"}`).
fn described(f: &ValFilter) -> Value {
    let mut m = Map::new();
    let mut add = |f: &ValFilter| {
        if let ValFilter::Attr(AttrExp::Comparison(p, CompareOp::Eq, v)) = f
            && let Some(s) = sub_name(Kind::Multi(EMAIL_SUBS), &p.name)
        {
            m.insert(s.into(), comp_json(v));
        }
    };
    match f {
        ValFilter::And(items) => items.as_slice().iter().for_each(&mut add),
        other => add(other),
    }
    Value::Object(m)
}

fn comp_json(v: &CompValue) -> Value {
    match v {
        CompValue::False => Value::Bool(false),
        CompValue::True => Value::Bool(true),
        CompValue::Null => Value::Null,
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::Str(s) => Value::String(s.clone()),
    }
}

/// Whether one item of a multi-valued attribute passes a value filter (eq, ne, co, sw, ew,
/// pr on its sub-attributes; text compared without case, as `emails` is case-insensitive).
fn val_matches(f: &ValFilter, item: &Value) -> Result<bool> {
    Ok(match f {
        ValFilter::Attr(AttrExp::Present(p)) => item.get(&p.name).is_some_and(|v| !is_empty(v)),
        ValFilter::Attr(AttrExp::Comparison(p, op, v)) => {
            let got = item.get(&p.name).unwrap_or(&Value::Null);
            match (got, comp_json(v)) {
                (Value::String(a), Value::String(b)) => {
                    let (a, b) = (a.to_lowercase(), b.to_lowercase());
                    match op {
                        CompareOp::Eq => a == b,
                        CompareOp::Ne => a != b,
                        CompareOp::Co => a.contains(&b),
                        CompareOp::Sw => a.starts_with(&b),
                        CompareOp::Ew => a.ends_with(&b),
                        CompareOp::Gt => a > b,
                        CompareOp::Ge => a >= b,
                        CompareOp::Lt => a < b,
                        CompareOp::Le => a <= b,
                    }
                }
                (a, b) => match op {
                    CompareOp::Eq => *a == b,
                    CompareOp::Ne => *a != b,
                    _ => return Err(bad("invalidFilter", format!("{op} needs a string"))),
                },
            }
        }
        ValFilter::Not(inner) => !val_matches(inner, item)?,
        ValFilter::And(items) => {
            for i in items.as_slice() {
                if !val_matches(i, item)? {
                    return Ok(false);
                }
            }
            true
        }
        ValFilter::Or(items) => {
            for i in items.as_slice() {
                if val_matches(i, item)? {
                    return Ok(true);
                }
            }
            false
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Attribute selection (RFC 7644 §3.9)

/// Which attributes an answer carries: `attributes` (only these, with `id` and `schemas`,
/// which are always returned) or `excludedAttributes` (all but these). Names as in a filter:
/// `name.givenName`, `emails`, `urn:…:enterprise:2.0:User:department`, or an extension's URN.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

/// Where a named attribute sits: in the core or the extension object, its key, its sub-key.
fn located(name: &str) -> Option<(bool, &'static str, Option<&'static str>)> {
    let name = name.trim();
    if name.eq_ignore_ascii_case(ENTERPRISE) {
        return Some((true, "", None));
    }
    let p = key_path(name).ok()?;
    let a = attr(p.uri.as_deref(), &p.name)?;
    let sub = match &p.sub_attr {
        Some(s) => Some(sub_name(a.kind, s)?),
        None => None,
    };
    Some((a.schema == ENTERPRISE, a.name, sub))
}

fn copy_one(from: &Map<String, Value>, to: &mut Map<String, Value>, key: &str, sub: Option<&str>) {
    let Some(v) = from.get(key) else {
        return;
    };
    match (sub, v) {
        (None, v) => {
            to.insert(key.to_string(), v.clone());
        }
        (Some(s), Value::Object(o)) => {
            if let Some(x) = o.get(s) {
                let slot = to.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if let Some(m) = slot.as_object_mut() {
                    m.insert(s.to_string(), x.clone());
                }
            }
        }
        (Some(s), Value::Array(items)) => {
            let picked: Vec<Value> = items.iter().filter_map(|i| i.get(s).map(|x| json!({ s: x }))).collect();
            if !picked.is_empty() {
                to.insert(key.to_string(), Value::Array(picked));
            }
        }
        _ => {}
    }
}

fn drop_one(from: &mut Map<String, Value>, key: &str, sub: Option<&str>) {
    match sub {
        None => {
            from.remove(key);
        }
        Some(s) => {
            match from.get_mut(key) {
                Some(Value::Object(o)) => {
                    o.remove(s);
                }
                Some(Value::Array(items)) => items.iter_mut().for_each(|i| {
                    i.as_object_mut().map(|o| o.remove(s));
                }),
                _ => {}
            }
            if from.get(key).is_some_and(is_empty) {
                from.remove(key);
            }
        }
    }
}

impl Projection {
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Applies the selection to a resource's representation.
    pub fn apply(&self, resource: &mut Value) {
        let Value::Object(m) = resource else {
            return;
        };
        let always = ["id", "schemas"];
        if !self.attributes.is_empty() {
            let mut out = Map::new();
            for key in always {
                if let Some(v) = m.get(key) {
                    out.insert(key.to_string(), v.clone());
                }
            }
            let empty = Map::new();
            for name in &self.attributes {
                match located(name) {
                    Some((true, "", None)) => {
                        if let Some(v) = m.get(ENTERPRISE) {
                            out.insert(ENTERPRISE.to_string(), v.clone());
                        }
                    }
                    Some((true, key, sub)) => {
                        let from = m.get(ENTERPRISE).and_then(Value::as_object).unwrap_or(&empty);
                        let slot = out.entry(ENTERPRISE).or_insert_with(|| Value::Object(Map::new()));
                        if let Some(to) = slot.as_object_mut() {
                            copy_one(from, to, key, sub);
                        }
                    }
                    Some((false, key, sub)) => copy_one(m, &mut out, key, sub),
                    None => {}
                }
            }
            if out.get(ENTERPRISE).is_some_and(is_empty) {
                out.remove(ENTERPRISE);
            }
            *m = out;
        }
        for name in &self.excluded {
            match located(name) {
                Some((_, key, None)) if always.contains(&key) => {}
                Some((true, "", None)) => {
                    m.remove(ENTERPRISE);
                }
                Some((true, key, sub)) => {
                    if let Some(Value::Object(ext)) = m.get_mut(ENTERPRISE) {
                        drop_one(ext, key, sub);
                    }
                    if m.get(ENTERPRISE).is_some_and(is_empty) {
                        m.remove(ENTERPRISE);
                    }
                }
                Some((false, key, sub)) => drop_one(m, key, sub),
                None => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Filters

/// What a filter may test: the attributes the store keeps in columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    UserName,
    ExternalId,
    /// `emails`, `emails.value`, `emails[value …]`: the user's address.
    Email,
    DisplayName,
    Active,
}

impl Field {
    /// Compared without regard to case (RFC 7643: userName, emails and displayName are not
    /// caseExact): the store lower-cases both sides.
    pub fn case_insensitive(self) -> bool {
        matches!(self, Field::UserName | Field::Email | Field::DisplayName)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A filter as the store runs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// A text field compared with a value (already lower-cased where the field is not caseExact).
    Text(Field, Op, String),
    /// `active eq true`, `active ne false`: whether the user is active.
    Active(bool),
    Present(Field),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

/// Parses `filter` with the crate's grammar and maps it onto meishi's fields; anything else
/// is a 400 `invalidFilter`.
pub fn condition(filter: &str) -> Result<Cond> {
    let f: Filter = filter
        .parse()
        .map_err(|e| bad("invalidFilter", format!("the filter does not parse: {e}")))?;
    cond(&f)
}

fn field(p: &AttrPath, inside_emails: bool) -> Result<Field> {
    let not_filterable = || bad("invalidFilter", format!("meishi cannot filter on {p}"));
    if inside_emails {
        return match (p.name.eq_ignore_ascii_case("value"), &p.sub_attr) {
            (true, None) => Ok(Field::Email),
            _ => Err(not_filterable()),
        };
    }
    let a = attr(p.uri.as_deref(), &p.name).ok_or_else(not_filterable)?;
    let sub = p.sub_attr.as_deref();
    match (a.name, sub) {
        ("id", None) => Ok(Field::Id),
        ("userName", None) => Ok(Field::UserName),
        ("externalId", None) => Ok(Field::ExternalId),
        ("displayName", None) => Ok(Field::DisplayName),
        ("active", None) => Ok(Field::Active),
        ("emails", None) => Ok(Field::Email),
        ("emails", Some(s)) if s.eq_ignore_ascii_case("value") => Ok(Field::Email),
        _ => Err(not_filterable()),
    }
}

fn op(o: &CompareOp) -> Op {
    match o {
        CompareOp::Eq => Op::Eq,
        CompareOp::Ne => Op::Ne,
        CompareOp::Co => Op::Co,
        CompareOp::Sw => Op::Sw,
        CompareOp::Ew => Op::Ew,
        CompareOp::Gt => Op::Gt,
        CompareOp::Ge => Op::Ge,
        CompareOp::Lt => Op::Lt,
        CompareOp::Le => Op::Le,
    }
}

fn attr_exp(e: &AttrExp, inside_emails: bool) -> Result<Cond> {
    match e {
        AttrExp::Present(p) => Ok(Cond::Present(field(p, inside_emails)?)),
        AttrExp::Comparison(p, o, v) => {
            let f = field(p, inside_emails)?;
            match (f, op(o), v) {
                (Field::Active, Op::Eq, CompValue::True) | (Field::Active, Op::Ne, CompValue::False) => {
                    Ok(Cond::Active(true))
                }
                (Field::Active, Op::Eq, CompValue::False) | (Field::Active, Op::Ne, CompValue::True) => {
                    Ok(Cond::Active(false))
                }
                (Field::Active, _, _) => Err(bad("invalidFilter", "active compares with eq or ne and true or false")),
                (_, Op::Eq, CompValue::Null) => Ok(Cond::Not(Box::new(Cond::Present(f)))),
                (_, Op::Ne, CompValue::Null) => Ok(Cond::Present(f)),
                (_, o, CompValue::Str(s)) => {
                    let s = if f.case_insensitive() {
                        s.to_lowercase()
                    } else {
                        s.clone()
                    };
                    Ok(Cond::Text(f, o, s))
                }
                _ => Err(bad("invalidFilter", format!("{p} compares with a string"))),
            }
        }
    }
}

fn cond(f: &Filter) -> Result<Cond> {
    Ok(match f {
        Filter::Attr(e) => attr_exp(e, false)?,
        Filter::ValuePath(vp) => {
            if field(&vp.attr, false)? != Field::Email || vp.attr.sub_attr.is_some() {
                return Err(bad("invalidFilter", format!("meishi cannot filter on {}[…]", vp.attr)));
            }
            val_cond(&vp.filter)?
        }
        Filter::Not(inner) => Cond::Not(Box::new(cond(inner)?)),
        Filter::And(items) => Cond::And(items.as_slice().iter().map(cond).collect::<Result<_>>()?),
        Filter::Or(items) => Cond::Or(items.as_slice().iter().map(cond).collect::<Result<_>>()?),
    })
}

fn val_cond(f: &ValFilter) -> Result<Cond> {
    Ok(match f {
        ValFilter::Attr(e) => attr_exp(e, true)?,
        ValFilter::Not(inner) => Cond::Not(Box::new(val_cond(inner)?)),
        ValFilter::And(items) => Cond::And(items.as_slice().iter().map(val_cond).collect::<Result<_>>()?),
        ValFilter::Or(items) => Cond::Or(items.as_slice().iter().map(val_cond).collect::<Result<_>>()?),
    })
}

/// `sortBy` as a field (ascending unless `descending`); unknown attributes sort nothing
/// (RFC 7644 §3.4.2.3 lets a server ignore what it cannot sort by).
pub fn sort_field(sort_by: &str) -> Option<Field> {
    let p = key_path(sort_by.trim()).ok()?;
    field(&p, false).ok().filter(|f| *f != Field::Active)
}

// ---------------------------------------------------------------------------------------------
// Deprovisioning

/// The departure an identity provider's `active=false` opens when the user has none: a
/// retirement whose last working day is today, suspended already (the account stopped at the
/// provider's word, `suspended_at`), flagged to the admins (要対応) so that they finish the
/// handover; the successor is the SCIM manager when they may receive cards, else none yet
/// (an admin names one). It stays scheduled until the day's suspension moment — until then the
/// provider's `active=true` cancels it — and the scheduler then settles it like any other
/// (needs action while the user holds something).
pub fn idp_departure(
    id: DepartureId,
    user: UserId,
    successor: Option<UserId>,
    actor: &str,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Departure {
    let today = policy.today(now);
    Departure {
        id,
        user_id: user,
        kind: DepartureKind::Retirement,
        retirement_date: today,
        last_working_day: today,
        successor_id: successor.unwrap_or_else(|| UserId::from("")),
        suspend_at: None,
        // The day's suspension moment, or now when it has passed (a provider deprovisioning
        // at 23:59:30): the departure then falls due at once and the next tick settles it.
        suspend_moment: policy.suspension_moment(today, None).max(now),
        status: DepartureStatus::Scheduled,
        plan_status: PlanStatus::None,
        plan_reported_by: None,
        plan_reported_at: None,
        plan_approved_by: None,
        plan_approved_at: None,
        plan_executed_at: None,
        plan_comment: None,
        plan_requested_at: None,
        attention_days: Some(0),
        suspended_at: Some(now),
        created_by: Some(UserId::from(actor)),
        created_at: now,
        updated_at: now,
    }
}

/// Whether the provider's `active=true` cancels this departure: one it opened and still pending.
pub fn cancelled_by_reactivation(d: &Departure) -> bool {
    d.status == DepartureStatus::Scheduled && d.created_by.as_ref().is_some_and(|c| is_idp_actor(c.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_v2::models::others::PatchOp;

    fn ops(v: Value) -> Vec<PatchOperation> {
        serde_json::from_value::<PatchOp>(json!({"schemas": [PATCH_OP], "Operations": v}))
            .expect("a PATCH message")
            .operations
    }

    fn resource() -> Resource {
        let mut r = Resource::from_body(&json!({
            "userName": "Yamada@Example.jp",
            "name": {"familyName": "山田", "givenName": "賢治", "nickname": "dropped"},
            "emails": [{"value": "yamada@example.jp", "type": "work", "primary": "True"}],
            "roles": ["ignored"],
            ENTERPRISE: {"department": "営業部"}
        }))
        .unwrap();
        r.set_active(true);
        r
    }

    #[test]
    fn a_body_keeps_the_known_attributes_under_their_names() {
        let r = resource();
        assert_eq!(r.0["name"], json!({"familyName": "山田", "givenName": "賢治"}));
        assert!(r.0.get("roles").is_none());
        assert_eq!(r.0["emails"][0]["primary"], true, "Entra's \"True\"");
        let f = r.fields().unwrap();
        assert_eq!(
            f.display_name, "山田 賢治",
            "family name first when there is no displayName"
        );
        assert_eq!(f.email.as_deref(), Some("yamada@example.jp"));
        assert_eq!(f.active, Some(true));
    }

    #[test]
    fn patches_as_entra_and_okta_send_them() {
        let mut r = resource();
        r.patch(&ops(json!([{"op": "Replace", "path": "active", "value": "False"}])))
            .unwrap();
        assert_eq!(r.fields().unwrap().active, Some(false));
        r.patch(&ops(json!([{"op": "replace", "value": {
            "active": true,
            "name.givenName": "花子",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "boss-id"
        }}])))
        .unwrap();
        let f = r.fields().unwrap();
        assert_eq!((f.active, f.manager.as_deref()), (Some(true), Some("boss-id")));
        assert_eq!(r.0["name"]["givenName"], "花子");
        assert_eq!(r.0[ENTERPRISE]["department"], "営業部", "a merge, not a replacement");
        r.patch(&ops(
            json!([{"op": "Add", "path": "emails[type eq \"home\"].value", "value": "h@example.jp"}]),
        ))
        .unwrap();
        assert_eq!(r.0["emails"][1], json!({"type": "home", "value": "h@example.jp"}));
        r.patch(&ops(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])))
            .unwrap();
        assert_eq!(r.0["emails"].as_array().unwrap().len(), 1);
        let refused = r.patch(&ops(json!([{"op": "remove", "path": "active"}]))).unwrap_err();
        assert_eq!(scim_type(&refused), Some("invalidValue"));
        let unknown = r
            .patch(&ops(json!([{"op": "add", "path": "nickName", "value": "x"}])))
            .unwrap_err();
        assert_eq!(scim_type(&unknown), Some("invalidPath"));
    }

    #[test]
    fn filters_become_conditions_on_the_columns() {
        assert_eq!(
            condition("userName eq \"Yamada@Example.jp\"").unwrap(),
            Cond::Text(Field::UserName, Op::Eq, "yamada@example.jp".into())
        );
        assert_eq!(
            condition("externalId eq \"AbC\" and active ne false").unwrap(),
            Cond::And(vec![
                Cond::Text(Field::ExternalId, Op::Eq, "AbC".into()),
                Cond::Active(true)
            ])
        );
        assert_eq!(
            condition("emails[value sw \"Y\"] or not (displayName pr)").unwrap(),
            Cond::Or(vec![
                Cond::Text(Field::Email, Op::Sw, "y".into()),
                Cond::Not(Box::new(Cond::Present(Field::DisplayName)))
            ])
        );
        for bad in [
            "userName",
            "title eq \"x\"",
            "active co \"t\"",
            "emails[type eq \"work\"]",
            "meta.created gt \"2026\"",
        ] {
            assert_eq!(scim_type(&condition(bad).unwrap_err()), Some("invalidFilter"), "{bad}");
        }
    }

    #[test]
    fn attribute_selection_keeps_id_and_schemas() {
        let mut v = json!({"id": "1", "schemas": [CORE], "userName": "u", "name": {"givenName": "g", "familyName": "f"}, ENTERPRISE: {"department": "d", "employeeNumber": "7"}});
        let p = Projection {
            attributes: vec!["name.givenName".into(), format!("{ENTERPRISE}:department")],
            excluded: vec!["id".into()],
        };
        p.apply(&mut v);
        assert_eq!(
            v,
            json!({"id": "1", "schemas": [CORE], "name": {"givenName": "g"}, ENTERPRISE: {"department": "d"}})
        );
    }

    #[test]
    fn the_departure_a_provider_opens_is_flagged_and_due_at_the_days_end() {
        let policy = Policy {
            zone: chrono_tz::Asia::Tokyo,
            suspend_at: chrono::NaiveTime::from_hms_opt(23, 59, 0).unwrap(),
            retired_suffix: "(退職済み)".into(),
            tag_format: "旧所有者: {name} ({date})".into(),
            trash_days: 30,
            execute_plan_before_suspension: true,
        };
        let now: DateTime<Utc> = "2026-03-31T03:00:00Z".parse().unwrap();
        let d = idp_departure(DepartureId::from("d"), UserId::from("u"), None, "scim:t", &policy, now);
        assert_eq!(d.last_working_day.to_string(), "2026-03-31");
        assert_eq!(
            d.suspend_moment,
            "2026-03-31T14:59:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!((d.attention_days, d.suspended_at), (Some(0), Some(now)));
        assert_eq!(d.successor_id.as_str(), "");
        assert!(cancelled_by_reactivation(&d));
        let late: DateTime<Utc> = "2026-03-31T14:59:30Z".parse().unwrap();
        let d = idp_departure(DepartureId::from("d"), UserId::from("u"), None, "scim:t", &policy, late);
        assert_eq!(d.suspend_moment, late, "past the day's moment: due at once");
    }
}
