//! Same person (名寄せ) and personnel-change news (人事異動・連絡先変更): the rules, pure.
//!
//! Two cards are **the same person** when their normalised names are equal and so is at least
//! one of: mail address, a phone number (phone or mobile, either way round), address, or
//! company + department. A name alone, or a mail address alone (info@ is shared by strangers),
//! only makes a **candidate**, which a person confirms or rejects; it is never merged on its own.
//!
//! Finding the cards to compare with is the store's job, through hashed lookup keys
//! (`lookup_keys`): one per strong pairing (name + mail, name + phone…) and one per candidate
//! kind (name, mail). A key only points at people who may match; every match is decided here,
//! by `compare`, on the cards themselves, so a stale or colliding key never joins strangers.

use super::CardFields;
use super::normalize;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What two cards are compared on, each normalised for matching only (NFKC, no spaces,
/// hiragana = katakana, variant kanji folded, legal forms dropped, phones as digits).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonKeys {
    pub name: String,
    pub email: String,
    /// Phone and mobile, digits only (`+81` → `0`); empty ones left out.
    pub phones: Vec<String>,
    pub address: String,
    /// Company and department together; empty unless both are given.
    pub company_department: String,
}

/// Digits only, the country code of Japan as a trunk zero: `+81 (0)3-1234-5678` →
/// `0312345678`, `０９０‐１２３４‐５６７８` → `09012345678`.
pub fn phone_digits(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let (digits, international) = if raw.is_ascii() {
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        (digits, raw.trim_start().starts_with('+'))
    } else {
        let digits: String = raw.nfkc().filter(char::is_ascii_digit).collect();
        (digits, raw.nfkc().find(|c| !c.is_whitespace()) == Some('+'))
    };
    match digits.strip_prefix("81") {
        Some(rest) if international => {
            if rest.starts_with('0') {
                rest.to_string()
            } else {
                format!("0{rest}")
            }
        }
        _ => digits,
    }
}

impl PersonKeys {
    pub fn of(f: &CardFields) -> Self {
        let mut phones: Vec<String> = [&f.phone, &f.mobile]
            .into_iter()
            .map(|p| phone_digits(p))
            .filter(|p| p.len() >= 6)
            .collect();
        phones.dedup();
        let company = normalize::search_company(&f.company);
        let department = normalize::search(&f.department);
        Self {
            name: normalize::search(&f.full_name),
            email: normalize::search(&f.email),
            phones,
            address: normalize::search(&f.address),
            company_department: if company.is_empty() || department.is_empty() {
                String::new()
            } else {
                format!("{company}\n{department}")
            },
        }
    }
}

/// What made two cards the same person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    Email,
    Phone,
    Address,
    CompanyDepartment,
}

/// Why two people may be one (a candidate, for a person to decide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CandidateReason {
    /// The same name, nothing else in common.
    Name,
    /// The same mail address under different names (a shared address, or a changed name).
    Email,
}

impl CandidateReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateReason::Name => "name",
            CandidateReason::Email => "email",
        }
    }
    pub fn from_stored(s: &str) -> super::Result<Self> {
        match s {
            "name" => Ok(Self::Name),
            "email" => Ok(Self::Email),
            other => Err(super::Error::internal(format!("stored candidate reason '{other}'"))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Likeness {
    Same(Evidence),
    Candidate(CandidateReason),
}

/// The one rule: are two cards the same person, a candidate, or strangers (None)?
pub fn compare(a: &PersonKeys, b: &PersonKeys) -> Option<Likeness> {
    let given = |x: &str, y: &str| !x.is_empty() && x == y;
    if given(&a.name, &b.name) {
        let evidence = if given(&a.email, &b.email) {
            Some(Evidence::Email)
        } else if a.phones.iter().any(|p| b.phones.contains(p)) {
            Some(Evidence::Phone)
        } else if given(&a.address, &b.address) {
            Some(Evidence::Address)
        } else if given(&a.company_department, &b.company_department) {
            Some(Evidence::CompanyDepartment)
        } else {
            None
        };
        return Some(evidence.map_or(Likeness::Candidate(CandidateReason::Name), Likeness::Same));
    }
    if given(&a.email, &b.email) {
        return Some(Likeness::Candidate(CandidateReason::Email));
    }
    None
}

/// A lookup key: strong keys find people a card may be the same as; candidate keys find people
/// it may only be a candidate of (and a candidate key shared by `CANDIDATE_CAP` people is too
/// common to suggest anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LookupKey {
    pub hash: i64,
    pub strong: bool,
}

/// A name (or mail address) that this many different people in the organisation share is too
/// common for a candidate: 田中 一郎 ×40 is not a question worth asking forty times.
pub const CANDIDATE_CAP: usize = 5;

/// FNV-1a, 64 bits: stable across versions and machines (the keys are stored).
fn fnv(parts: &[&str]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h as i64
}

/// The keys a card is looked up and stored under, scoped by organisation (the organisation's id
/// is part of every hash).
pub fn lookup_keys(org_id: &str, k: &PersonKeys) -> Vec<LookupKey> {
    let mut out = Vec::with_capacity(7);
    // A key is laid out so that the keys looked up together sit together in `person_keys`
    // (sorted by key): 16 bits of the organisation, then, for every key that holds the name, 24
    // bits of the name and 24 of the key itself (the mail key: 48 bits of the mail). An import's
    // batch then reads and adds its keys among its own organisation's, and a card's keys share
    // a B-tree leaf, instead of touching a leaf per key across a table of millions. Bits
    // shared by chance make no false match: keys only find whom to compare with.
    let org = fnv(&[org_id]) as u64 & 0xFFFF_0000_0000_0000;
    let name_bits = fnv(&[org_id, "n", &k.name]) as u64 & 0x0000_FFFF_FF00_0000;
    let near_name = |own: i64| (org | name_bits | own as u64 & 0xFF_FFFF) as i64;
    let name = near_name(0);
    let strong = |kind: &str, v: &str| LookupKey {
        hash: near_name(fnv(&[org_id, kind, &k.name, v])),
        strong: true,
    };
    if !k.name.is_empty() {
        if !k.email.is_empty() {
            out.push(strong("ne", &k.email));
        }
        for p in &k.phones {
            out.push(strong("np", p));
        }
        if !k.address.is_empty() {
            out.push(strong("na", &k.address));
        }
        if !k.company_department.is_empty() {
            out.push(strong("nc", &k.company_department));
        }
        out.push(LookupKey {
            hash: name,
            strong: false,
        });
    }
    if !k.email.is_empty() {
        out.push(LookupKey {
            hash: (org | fnv(&[org_id, "e", &k.email]) as u64 & 0x0000_FFFF_FFFF_FFFF) as i64,
            strong: false,
        });
    }
    out
}

// --- news ---

/// 人事異動 (company, department or title) or 連絡先変更 (mail, phone, mobile, address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewsKind {
    Personnel,
    Contact,
}

impl NewsKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NewsKind::Personnel => "personnel",
            NewsKind::Contact => "contact",
        }
    }
    pub fn parse(field: &str, raw: &str) -> super::Result<Self> {
        match raw.trim() {
            "personnel" => Ok(Self::Personnel),
            "contact" => Ok(Self::Contact),
            other => Err(super::Error::bad_input(
                field,
                format!("'{other}' is not one of: personnel, contact"),
            )),
        }
    }
    pub fn from_stored(s: &str) -> super::Result<Self> {
        Self::parse("kind", s).map_err(|e| super::Error::internal(format!("stored news {}", e.message)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewsStatus {
    Open,
    Applied,
    Dismissed,
}

impl NewsStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NewsStatus::Open => "open",
            NewsStatus::Applied => "applied",
            NewsStatus::Dismissed => "dismissed",
        }
    }
    pub fn parse(field: &str, raw: &str) -> super::Result<Self> {
        match raw.trim() {
            "open" => Ok(Self::Open),
            "applied" => Ok(Self::Applied),
            "dismissed" => Ok(Self::Dismissed),
            other => Err(super::Error::bad_input(
                field,
                format!("'{other}' is not one of: open, applied, dismissed"),
            )),
        }
    }
    pub fn from_stored(s: &str) -> super::Result<Self> {
        Self::parse("status", s).map_err(|e| super::Error::internal(format!("stored news {}", e.message)))
    }
}

/// The new values a news item carries (only the fields of its kind; what applying copies).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct NewsValues {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl NewsValues {
    /// The card's fields with these values copied onto them.
    pub fn applied_to(&self, f: &CardFields) -> CardFields {
        let mut out = f.clone();
        let set = |to: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                to.clone_from(v);
            }
        };
        set(&mut out.company, &self.company);
        set(&mut out.department, &self.department);
        set(&mut out.title, &self.title);
        set(&mut out.email, &self.email);
        set(&mut out.phone, &self.phone);
        set(&mut out.mobile, &self.mobile);
        set(&mut out.postal_code, &self.postal_code);
        set(&mut out.address, &self.address);
        out
    }
}

/// Which card of a person is newer: the later exchange date (名刺交換日), else the later
/// creation; a card without an exchange date counts from the day it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Recency {
    pub day: NaiveDate,
    pub created_at: i64,
}

impl Recency {
    pub fn of(exchanged_on: Option<NaiveDate>, created_at: DateTime<Utc>) -> Self {
        Self {
            day: exchanged_on.unwrap_or_else(|| created_at.date_naive()),
            created_at: created_at.timestamp_micros(),
        }
    }
}

/// The news the newer card of a person brings to an older one: 人事異動 when its company,
/// department or title differs, 連絡先変更 when its mail, phone, mobile or address does
/// (compared normalised; an empty value on the newer card is not news).
pub fn news_between(older: &CardFields, newer: &CardFields) -> Vec<(NewsKind, NewsValues)> {
    let differs = |norm: fn(&str) -> String, old: &str, new: &str| {
        let new_key = norm(new);
        !new_key.is_empty() && new_key != norm(old)
    };
    let mut out = Vec::new();
    if differs(normalize::search_company, &older.company, &newer.company) {
        // Another company: its department and title as the newer card has them (an empty one
        // included: the old company's department means nothing there).
        out.push((
            NewsKind::Personnel,
            NewsValues {
                company: Some(newer.company.clone()),
                department: Some(newer.department.clone()),
                title: Some(newer.title.clone()),
                ..Default::default()
            },
        ));
    } else {
        // The same company: only what the newer card says differently.
        let pick = |old: &str, new: &str| differs(normalize::search, old, new).then(|| new.to_string());
        let moved = NewsValues {
            department: pick(&older.department, &newer.department),
            title: pick(&older.title, &newer.title),
            ..Default::default()
        };
        if moved != NewsValues::default() {
            out.push((NewsKind::Personnel, moved));
        }
    }
    let pick = |norm: fn(&str) -> String, old: &str, new: &str| differs(norm, old, new).then(|| new.to_string());
    let contact = NewsValues {
        email: pick(normalize::search, &older.email, &newer.email),
        phone: pick(phone_digits, &older.phone, &newer.phone),
        mobile: pick(phone_digits, &older.mobile, &newer.mobile),
        address: pick(normalize::search, &older.address, &newer.address),
        postal_code: None,
        ..Default::default()
    };
    if contact != NewsValues::default() {
        let postal_code = contact
            .address
            .as_ref()
            .filter(|_| !newer.postal_code.is_empty())
            .map(|_| newer.postal_code.clone());
        out.push((NewsKind::Contact, NewsValues { postal_code, ..contact }));
    }
    out
}

// --- placing a new card ---

/// A card of a known person, as placing a new card needs it.
#[derive(Debug, Clone)]
pub struct PersonCard {
    pub card_id: String,
    pub person_id: i64,
    pub owner_id: String,
    pub fields: CardFields,
    pub recency: Recency,
    /// `PersonKeys::of(&fields)`, made once.
    pub keys: PersonKeys,
}

impl PersonCard {
    pub fn new(card_id: String, person_id: i64, owner_id: String, fields: CardFields, recency: Recency) -> Self {
        let keys = PersonKeys::of(&fields);
        Self {
            card_id,
            person_id,
            owner_id,
            fields,
            recency,
            keys,
        }
    }
}

/// A news item to record (or to fold into the card's open item of that kind).
#[derive(Debug, Clone, PartialEq)]
pub struct NewsFor {
    /// The card the news is about (its owner is told).
    pub card_id: String,
    pub kind: NewsKind,
    pub values: NewsValues,
    /// The newer card the values come from.
    pub source_card_id: String,
    pub recency: Recency,
}

/// Where a new card goes.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// The person it is the same as; None: a new person.
    pub person_id: Option<i64>,
    /// A card of that person with the same owner and the very same fields (an exact duplicate).
    pub duplicate_of: Option<String>,
    /// Other people it may be (a card of each, and why), for a person to decide.
    pub candidates: Vec<(i64, String, CandidateReason)>,
    pub news: Vec<NewsFor>,
}

/// Places `card` among `known` (cards of the people its lookup keys found; any order): an
/// exact duplicate of a known card (same owner, every field the same) is that card's; else it
/// joins the person it is the same as (the lowest id when several are: people a person split),
/// may be a candidate of others, and brings news to that person's older cards, or takes news
/// from their newer ones.
pub fn place(card: &PersonCard, known: &[PersonCard]) -> Placement {
    // The very same card again (same owner, every field the same, a name given): whatever
    // else is given, it is that card's person, and nothing is news.
    if !card.fields.full_name.trim().is_empty()
        && let Some(k) = known
            .iter()
            .find(|k| k.owner_id == card.owner_id && k.fields == card.fields)
    {
        return Placement {
            person_id: Some(k.person_id),
            duplicate_of: Some(k.card_id.clone()),
            ..Default::default()
        };
    }
    let keys = &card.keys;
    let mut same: Option<i64> = None;
    let mut maybe: Vec<(i64, String, CandidateReason)> = Vec::new();
    for k in known {
        match compare(keys, &k.keys) {
            Some(Likeness::Same(_)) => same = Some(same.map_or(k.person_id, |p| p.min(k.person_id))),
            Some(Likeness::Candidate(why)) if !maybe.iter().any(|m| m.0 == k.person_id) => {
                maybe.push((k.person_id, k.card_id.clone(), why));
            }
            _ => {}
        }
    }
    let mut placed = Placement {
        person_id: same,
        ..Default::default()
    };
    let Some(person) = same else {
        placed.candidates = maybe;
        return placed;
    };
    let theirs: Vec<&PersonCard> = known.iter().filter(|k| k.person_id == person).collect();
    // People this one was found the same as are not candidates of it (a split keeps them apart).
    let same_people: Vec<i64> = known
        .iter()
        .filter(|k| matches!(compare(keys, &k.keys), Some(Likeness::Same(_))))
        .map(|k| k.person_id)
        .collect();
    placed.candidates = maybe.into_iter().filter(|m| !same_people.contains(&m.0)).collect();
    for k in theirs {
        let (older, newer) = if card.recency > k.recency { (k, card) } else { (card, k) };
        for (kind, values) in news_between(&older.fields, &newer.fields) {
            placed.news.push(NewsFor {
                card_id: older.card_id.clone(),
                kind,
                values,
                source_card_id: newer.card_id.clone(),
                recency: newer.recency,
            });
        }
    }
    placed
}

// --- career ---

/// One step of a person's career (経歴): where they were and as what, from when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CareerStep {
    /// The earliest day this is known from (an exchange date, a card's creation or a change).
    pub since: NaiveDate,
    pub company: String,
    pub department: String,
    pub title: String,
}

/// The steps, oldest first, from dated observations (company, department, title); repeated
/// observations of the same step keep the earliest day.
pub fn career(mut seen: Vec<CareerStep>) -> Vec<CareerStep> {
    seen.sort_by_key(|s| s.since);
    let key = |s: &CareerStep| {
        (
            normalize::search_company(&s.company),
            normalize::search(&s.department),
            normalize::search(&s.title),
        )
    };
    let mut out: Vec<CareerStep> = Vec::new();
    for s in seen {
        if s.company.is_empty() && s.department.is_empty() && s.title.is_empty() {
            continue;
        }
        if out.last().is_some_and(|last| key(last) == key(&s)) {
            continue;
        }
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(name: &str, email: &str, phone: &str, company: &str, dept: &str) -> PersonKeys {
        PersonKeys::of(&CardFields {
            full_name: name.into(),
            email: email.into(),
            phone: phone.into(),
            company: company.into(),
            department: dept.into(),
            ..Default::default()
        })
    }

    #[test]
    fn variant_kanji_and_spaces_are_one_name() {
        let a = card("髙橋 一郎", "ichiro@example.jp", "", "", "");
        let b = card("高橋一郎", "Ichiro@Example.jp", "", "", "");
        assert_eq!(compare(&a, &b), Some(Likeness::Same(Evidence::Email)));
        let c = card("山﨑　花子", "", "03-1234-5678", "", "");
        let d = card("山崎 花子", "", "+81 3 1234 5678", "", "");
        assert_eq!(compare(&c, &d), Some(Likeness::Same(Evidence::Phone)));
        assert_eq!(
            compare(&card("齋藤 聡", "", "", "", ""), &card("斎藤 聡", "", "", "", "")),
            Some(Likeness::Candidate(CandidateReason::Name))
        );
    }

    #[test]
    fn company_and_department_make_the_same_person_legal_forms_aside() {
        let a = card("山本 太郎", "", "", "株式会社サンプル", "営業部");
        let b = card("山本太郎", "", "", "(株)サンプル", "営業部");
        assert_eq!(compare(&a, &b), Some(Likeness::Same(Evidence::CompanyDepartment)));
        let other_dept = card("山本太郎", "", "", "(株)サンプル", "総務部");
        assert_eq!(
            compare(&a, &other_dept),
            Some(Likeness::Candidate(CandidateReason::Name))
        );
    }

    #[test]
    fn a_shared_address_alone_is_only_a_candidate() {
        let a = card("佐藤 一郎", "info@example.jp", "", "", "");
        let b = card("鈴木 花子", "info@example.jp", "", "", "");
        assert_eq!(compare(&a, &b), Some(Likeness::Candidate(CandidateReason::Email)));
        assert_eq!(compare(&a, &card("鈴木 花子", "", "", "", "")), None);
        assert_eq!(compare(&card("", "", "", "", ""), &card("", "", "", "", "")), None);
    }

    #[test]
    fn phones_are_digits_with_a_trunk_zero() {
        assert_eq!(phone_digits("+81 (0)3-1234-5678"), "0312345678");
        assert_eq!(phone_digits("+81-90-1234-5678"), "09012345678");
        assert_eq!(phone_digits("０９０‐１２３４‐５６７８"), "09012345678");
        assert_eq!(phone_digits("81-1234"), "811234", "no plus, no country code");
    }

    #[test]
    fn lookup_keys_are_per_organisation_and_kind() {
        let k = card("山本 太郎", "t@example.jp", "03-1234-5678", "サンプル", "営業部");
        let a = lookup_keys("org-a", &k);
        let b = lookup_keys("org-b", &k);
        assert_eq!(
            a.len(),
            5,
            "name + mail, name + phone, name + company and department; name, mail"
        );
        assert!(a.iter().all(|x| !b.contains(x)));
        assert_eq!(a.iter().filter(|x| x.strong).count(), 3);
        // The same person written differently has the same keys.
        let same = card(
            "山本　太郎",
            "T@EXAMPLE.JP",
            "０３-1234-5678",
            "株式会社サンプル",
            "営業部",
        );
        assert_eq!(lookup_keys("org-a", &same), a);
    }

    #[test]
    fn news_points_from_the_older_card_to_the_newer_values() {
        let old = CardFields {
            full_name: "山本 太郎".into(),
            company: "株式会社サンプル".into(),
            department: "営業部".into(),
            title: "主任".into(),
            email: "t@example.jp".into(),
            phone: "03-1111-2222".into(),
            ..Default::default()
        };
        let same_but_written = CardFields {
            company: "(株)サンプル".into(),
            phone: "0311112222".into(),
            email: String::new(),
            ..old.clone()
        };
        assert!(
            news_between(&old, &same_but_written).is_empty(),
            "no news for a spelling or a missing value"
        );
        let promoted = CardFields {
            title: "課長".into(),
            mobile: "090-1234-5678".into(),
            ..old.clone()
        };
        let news = news_between(&old, &promoted);
        assert_eq!(news.len(), 2);
        assert_eq!(news[0].0, NewsKind::Personnel);
        assert_eq!(news[0].1.title.as_deref(), Some("課長"));
        assert_eq!(news[0].1.company, None, "the same company: only the title is news");
        assert_eq!(news[0].1.department, None);
        let untitled = CardFields {
            title: String::new(),
            ..old.clone()
        };
        assert!(
            news_between(&old, &untitled).is_empty(),
            "a card without a title clears nothing"
        );
        let moved = CardFields {
            company: "B商事".into(),
            department: String::new(),
            title: "顧問".into(),
            ..old.clone()
        };
        let n = &news_between(&old, &moved)[0].1;
        assert_eq!(
            (n.company.as_deref(), n.department.as_deref(), n.title.as_deref()),
            (Some("B商事"), Some(""), Some("顧問")),
            "another company: all three as the newer card has them"
        );
        assert_eq!(news[1].0, NewsKind::Contact);
        assert_eq!(news[1].1.mobile.as_deref(), Some("090-1234-5678"));
        assert_eq!(news[1].1.email, None);
        let applied = news[0].1.applied_to(&old);
        assert_eq!(applied.title, "課長");
        assert_eq!(applied.phone, old.phone);
    }

    #[test]
    fn recency_is_the_exchange_date_then_the_creation() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().ok();
        let older = Recency::of(d("2024-01-01"), t("2026-05-01T00:00:00Z"));
        let newer = Recency::of(d("2025-01-01"), t("2026-01-01T00:00:00Z"));
        assert!(newer > older, "the exchange date wins over the creation");
        assert!(Recency::of(None, t("2026-01-01T00:00:00Z")) > older);
        assert!(Recency::of(d("2025-01-01"), t("2026-02-01T00:00:00Z")) > newer);
    }

    #[test]
    fn career_keeps_each_step_once_oldest_first() {
        let step = |d: &str, co: &str, title: &str| CareerStep {
            since: d.parse().unwrap(),
            company: co.into(),
            department: "営業部".into(),
            title: title.into(),
        };
        let c = career(vec![
            step("2025-04-01", "B商事", "課長"),
            step("2020-04-01", "株式会社A", "主任"),
            step("2021-04-01", "(株)A", "主任"),
            step("2023-04-01", "株式会社A", "係長"),
        ]);
        let titles: Vec<&str> = c.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["主任", "係長", "課長"]);
        assert_eq!(c[0].since.to_string(), "2020-04-01");
    }

    fn pc(id: &str, person: i64, owner: &str, fields: CardFields, day: &str) -> PersonCard {
        let recency = Recency::of(day.parse().ok(), "2026-01-01T00:00:00Z".parse().unwrap());
        PersonCard::new(id.into(), person, owner.into(), fields, recency)
    }

    #[test]
    fn a_new_card_joins_its_person_and_brings_news_both_ways() {
        let f = |title: &str, email: &str| CardFields {
            full_name: "やまもと 太郎".replace("やまもと", "山本"),
            email: email.into(),
            company: "株式会社サンプル".into(),
            title: title.into(),
            ..Default::default()
        };
        let known = vec![
            pc("old", 7, "u1", f("主任", "t@example.jp"), "2020-01-01"),
            pc("newest", 7, "u2", f("部長", "t@example.jp"), "2026-01-01"),
            pc(
                "info",
                9,
                "u1",
                CardFields {
                    full_name: "鈴木 花子".into(),
                    email: "t@example.jp".into(),
                    ..Default::default()
                },
                "2020-01-01",
            ),
        ];
        let arrival = pc("new", 0, "u3", f("課長", "t@example.jp"), "2024-01-01");
        let p = place(&arrival, &known);
        assert_eq!(p.person_id, Some(7));
        assert_eq!(p.duplicate_of, None);
        assert_eq!(p.candidates, vec![(9, "info".to_string(), CandidateReason::Email)]);
        let about: Vec<(&str, &str)> = p
            .news
            .iter()
            .map(|n| (n.card_id.as_str(), n.source_card_id.as_str()))
            .collect();
        assert_eq!(
            about,
            [("old", "new"), ("new", "newest")],
            "news never points backwards"
        );

        let again = pc("again", 0, "u1", f("主任", "t@example.jp"), "2020-01-01");
        assert_eq!(place(&again, &known).duplicate_of.as_deref(), Some("old"));
        let strangers = pc(
            "x",
            0,
            "u1",
            CardFields {
                full_name: "佐藤 次郎".into(),
                email: "t@example.jp".into(),
                ..Default::default()
            },
            "2020-01-01",
        );
        let p = place(&strangers, &known);
        assert_eq!(p.person_id, None, "a shared address never joins strangers");
        assert_eq!(p.candidates.len(), 2);
    }
}
