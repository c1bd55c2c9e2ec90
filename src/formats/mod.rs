//! What card import and export share, whatever the file format: the options, a card as read
//! from a file (not yet checked), the per-line error, and the check that turns a read card
//! into one the store may insert — through `CardFields::parse`, the same rule the API uses.
//!
//! Fields with no card column travel in `extra`, a JSON object kept with the card:
//! `{"vcard": ["NOTE:…", "item2.EMAIL;TYPE=home:…"], "csv": {"会社名（英語）": "…"}}`.
//! An export writes them back (vCard lines into a vCard, the whole object into CSV's `extra`).

pub mod csv;
pub mod vcard;

use crate::domain::error::{Error, Result};
use crate::domain::normalize;
use crate::domain::types::{CardFields, Email, optional_text};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// At most this many per-line errors are listed; the total is always given.
pub const MAX_LISTED_ERRORS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Vcard,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Vcard => "vcard",
            Format::Csv => "csv",
        }
    }
}

/// The character encoding of an imported file; `auto` looks at the bytes (a UTF-8 BOM, or
/// valid UTF-8 in the first 64 KiB, means UTF-8; anything else Shift_JIS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TextEncoding {
    #[default]
    Auto,
    #[serde(alias = "utf8", alias = "utf-8")]
    Utf8,
    /// Shift_JIS as Windows writes it (CP932 / Windows-31J): 髙, ①, ㈱ survive.
    #[serde(alias = "sjis", alias = "cp932", alias = "windows-31j", alias = "shift-jis")]
    ShiftJis,
}

impl TextEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Auto => "auto",
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::ShiftJis => "shift_jis",
        }
    }
    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        match raw.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "auto" => Ok(Self::Auto),
            "utf_8" | "utf8" => Ok(Self::Utf8),
            "shift_jis" | "sjis" | "cp932" | "windows_31j" => Ok(Self::ShiftJis),
            _ => Err(Error::bad_input(
                field,
                format!("'{raw}' is not one of: utf-8, shift_jis, auto"),
            )),
        }
    }
}

/// `all_or_nothing` (default): one bad row and nothing is imported. `valid_rows`: the good
/// rows are imported and the bad ones listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    #[default]
    AllOrNothing,
    ValidRows,
}

/// What an import does with a card that is an exact duplicate of one already there (the same
/// owner, the same person, every field the same): `skip` it (default; the report lists the
/// lines) or `keep` it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    #[default]
    Skip,
    Keep,
}

/// One problem in an imported file: the line (1-based, the line a card or row starts on),
/// the column or vCard property, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LineError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl LineError {
    pub fn new(line: u64, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A problem with the file as a whole (not a card file, truncated, wrong encoding): nothing
/// is imported whatever the mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError(pub LineError);

impl FileError {
    pub fn new(line: u64, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(LineError::new(line, field, message))
    }
    pub fn into_error(self) -> Error {
        let e = self.0;
        let field = if e.field.is_empty() {
            "file".to_string()
        } else {
            e.field.clone()
        };
        let message = if e.line > 0 {
            format!("line {}: {}", e.line, e.message)
        } else {
            e.message.clone()
        };
        // The request was well-formed (a file); what it holds cannot be read: 422.
        Error::unprocessable(message)
            .with_field(&field)
            .with_details(serde_json::json!({
                "errors": [e], "error_count": 1,
            }))
    }
}

/// A card as read from a file, before any check. `exchanged_on` is the text as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawCard {
    pub line: u64,
    pub fields: CardFields,
    pub exchanged_on: String,
    pub tags: Vec<String>,
    /// The owner's email as written; empty means the import's default owner.
    pub owner: String,
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A card that passed every check, ready for the store.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedCard {
    pub line: u64,
    pub fields: CardFields,
    pub company_key: String,
    /// `normalize::card_search_tokens` and `card_name_key`, made here, on the reading side.
    pub search: normalize::SearchTokens,
    pub name_key: String,
    pub tags: Vec<String>,
    /// Lower-cased email, or empty for the default owner.
    pub owner: String,
    /// `extra` as JSON text, or None when there is nothing extra.
    pub extra: Option<String>,
}

/// A card as an export writes it: fields, tag names, the owner's email, `extra` as JSON text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportRow {
    pub fields: CardFields,
    pub tags: Vec<String>,
    pub owner: String,
    pub extra: Option<String>,
}

/// An exchange date as Japanese files write it: 2026-04-01, 2026/4/1, 2026.04.01, 2026年4月1日.
pub fn exchange_date(raw: &str) -> std::result::Result<Option<NaiveDate>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let cleaned: String = s.replace(['年', '月', '/', '.'], "-").replace('日', "");
    let mut parts = cleaned.split('-').map(str::trim);
    let (y, m, d) = (parts.next(), parts.next(), parts.next());
    let bad = || format!("'{s}' is not a date (YYYY-MM-DD or YYYY/MM/DD)");
    if parts.next().is_some() {
        return Err(bad());
    }
    let num = |p: Option<&str>, max_len: usize| -> Option<u32> {
        p.filter(|p| !p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse().ok())
    };
    match (num(y, 4), num(m, 2), num(d, 2)) {
        (Some(y), Some(m), Some(d)) if y >= 1000 => NaiveDate::from_ymd_opt(y as i32, m, d).map(Some).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// Checks a read card with the API's rules. `column` names the file's column or property for
/// a card field (`email` → `Email(1)` or `EMAIL`), so that the error points into the file.
pub fn check(raw: RawCard, column: impl Fn(&str) -> String) -> std::result::Result<CheckedCard, LineError> {
    let line = raw.line;
    let err = |field: &str, message: String| LineError::new(line, column(field), message);
    let exchanged_on = exchange_date(&raw.exchanged_on).map_err(|m| err("exchanged_on", m))?;
    let fields = CardFields::parse(CardFields {
        exchanged_on,
        ..raw.fields
    })
    .map_err(|e| err(e.field.as_deref().unwrap_or("full_name"), e.message))?;
    let mut tags: Vec<String> = Vec::with_capacity(raw.tags.len());
    for t in &raw.tags {
        if t.trim().is_empty() {
            continue;
        }
        let name = optional_text("tags", t, 100).map_err(|e| err("tags", format!("tag '{t}': {}", e.message)))?;
        if !tags.contains(&name) {
            tags.push(name);
        }
    }
    let owner = if raw.owner.trim().is_empty() {
        String::new()
    } else {
        Email::parse("owner", &raw.owner)
            .map_err(|e| err("owner", e.message))?
            .as_str()
            .to_string()
    };
    let extra = if raw.extra.is_empty() {
        None
    } else {
        Some(serde_json::Value::Object(raw.extra).to_string())
    };
    Ok(CheckedCard {
        line,
        company_key: normalize::company(&fields.company),
        search: normalize::card_search_tokens(&fields),
        name_key: normalize::card_name_key(&fields),
        fields,
        tags,
        owner,
        extra,
    })
}

/// Decodes bytes in the given encoding (never `Auto`); None when they are not valid in it.
pub fn decode(bytes: &[u8], enc: TextEncoding) -> Option<std::borrow::Cow<'_, str>> {
    match enc {
        TextEncoding::ShiftJis => encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes),
        _ => std::str::from_utf8(bytes).ok().map(std::borrow::Cow::Borrowed),
    }
}

/// Whether a prefix of a file is UTF-8 (a multi-byte character cut at the end is allowed).
pub fn looks_utf8(prefix: &[u8], complete: bool) -> bool {
    match std::str::from_utf8(prefix) {
        Ok(_) => true,
        Err(e) => !complete && e.error_len().is_none() && prefix.len() - e.valid_up_to() < 4,
    }
}

/// Text that decodes as UTF-8 with Japanese in it: a sign that a file said to be Shift_JIS
/// is really UTF-8 (Shift_JIS Japanese is almost never valid UTF-8 with kana or kanji).
pub fn is_utf8_japanese(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| s.chars().any(|c| matches!(c as u32, 0x3040..=0x30FF | 0x4E00..=0x9FFF)))
}

/// Encodes text for a Shift_JIS (CP932) export; a character CP932 lacks becomes `?`. The
/// characters that JIS-based systems (macOS, Java, EUC-JP data) use where Windows uses
/// another code point (〜 WAVE DASH for ～, ‖, —, ¢, £, ¬, ¦) are written as Windows' twin,
/// which is what Excel shows, instead of `?`.
pub fn to_shift_jis(text: &str, out: &mut Vec<u8>) {
    let mut enc = encoding_rs::SHIFT_JIS.new_encoder();
    let mut rest = text;
    out.reserve(text.len());
    loop {
        let start = out.len();
        let need = enc
            .max_buffer_length_from_utf8_without_replacement(rest.len())
            .unwrap_or(rest.len() * 2 + 8);
        out.resize(start + need, 0);
        let (res, read, written) = enc.encode_from_utf8_without_replacement(rest, &mut out[start..], true);
        out.truncate(start + written);
        rest = &rest[read..];
        match res {
            encoding_rs::EncoderResult::InputEmpty => break,
            encoding_rs::EncoderResult::OutputFull => continue,
            encoding_rs::EncoderResult::Unmappable(c) => match cp932_twin(c) {
                Some(twin) => to_shift_jis(twin.encode_utf8(&mut [0; 4]), out),
                None => out.push(b'?'),
            },
        }
    }
}

/// The Windows (CP932) code point of a character JIS-based mappings give another one.
fn cp932_twin(c: char) -> Option<char> {
    Some(match c {
        '\u{301C}' => '\u{FF5E}', // WAVE DASH → FULLWIDTH TILDE
        '\u{2016}' => '\u{2225}', // DOUBLE VERTICAL LINE → PARALLEL TO
        '\u{2014}' => '\u{2015}', // EM DASH → HORIZONTAL BAR
        '\u{00A2}' => '\u{FFE0}', // CENT SIGN
        '\u{00A3}' => '\u{FFE1}', // POUND SIGN
        '\u{00AC}' => '\u{FFE2}', // NOT SIGN
        '\u{00A6}' => '\u{FFE4}', // BROKEN BAR
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_dates() {
        let d = |s| exchange_date(s).unwrap().unwrap().to_string();
        assert_eq!(d("2026-04-01"), "2026-04-01");
        assert_eq!(d("2026/4/1"), "2026-04-01");
        assert_eq!(d(" 2026.04.01 "), "2026-04-01");
        assert_eq!(d("2026年4月1日"), "2026-04-01");
        assert_eq!(exchange_date("").unwrap(), None);
        for bad in ["2026-13-01", "2026/02/30", "昨日", "26/4/1", "2026-04-01-02", "2026-4"] {
            assert!(exchange_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn check_names_the_column() {
        let raw = RawCard {
            line: 7,
            fields: CardFields {
                full_name: "田中".into(),
                email: "tanaka@".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = check(raw, |f| format!("col:{f}")).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (7, "col:email"));
        let raw = RawCard {
            line: 3,
            exchanged_on: "2026/02/30".into(),
            fields: CardFields {
                company: "（株）サンプル".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(check(raw, str::to_string).unwrap_err().field, "exchanged_on");
        let e = check(
            RawCard {
                line: 2,
                ..Default::default()
            },
            str::to_string,
        )
        .unwrap_err();
        assert_eq!(e.field, "full_name");
        let ok = check(
            RawCard {
                line: 2,
                fields: CardFields {
                    company: "㈱サンプル".into(),
                    ..Default::default()
                },
                tags: vec!["展示会".into(), " ".into(), "展示会".into()],
                owner: "Sato@Example.jp".into(),
                ..Default::default()
            },
            str::to_string,
        )
        .unwrap();
        assert_eq!(ok.tags, vec!["展示会"]);
        assert_eq!(ok.owner, "sato@example.jp");
        assert_eq!(ok.company_key, normalize::company("株式会社サンプル"));
    }

    #[test]
    fn shift_jis_is_cp932() {
        let mut out = Vec::new();
        to_shift_jis("髙橋①㈱😀", &mut out);
        let back = decode(&out, TextEncoding::ShiftJis).unwrap();
        assert_eq!(back, "髙橋①㈱?");
        let mut out = Vec::new();
        to_shift_jis("10:00〜18:00 ‖ — ¢£¬¦ −", &mut out);
        let back = decode(&out, TextEncoding::ShiftJis).unwrap();
        assert_eq!(back, "10:00～18:00 ∥ ― ￠￡￢￤ －", "the Windows twins, not ?");
        assert!(!looks_utf8(&out, true));
        assert!(is_utf8_japanese("髙橋".as_bytes()));
        assert!(!is_utf8_japanese(&out));
        let s = "日本".as_bytes();
        assert!(looks_utf8(&s[..4], false));
        assert!(!looks_utf8(&s[..4], true));
    }
}
