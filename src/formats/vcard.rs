//! Cards as vCard 2.1, 3.0 and 4.0, as phones and mail clients write them, and written as
//! 4.0 or 3.0. Pure: bytes in, cards out.
//!
//! Reading is two steps. First this module splits the file into cards and normalises each
//! card's lines to UTF-8: unfolding, 2.1 QUOTED-PRINTABLE with its soft line breaks, and
//! `CHARSET=SHIFT_JIS` (or any other charset), and 2.1's bare parameters (`TEL;CELL;VOICE`)
//! turned into `TYPE=`. Then calcard parses the normalised card (values, escapes, components,
//! parameters). We decode QP and charsets ourselves, rather than leaving it to calcard
//! (which would use mail-parser's decoders), because calcard's input is `&str`: the raw
//! Shift_JIS bytes of a `CHARSET=SHIFT_JIS` property that is *not* QP-encoded (as Japanese
//! feature phones and Outlook write them) cannot even be handed to it, and for QP without a
//! CHARSET it assumes ISO-8859-1 where Japanese Android phones mean UTF-8.
//!
//! Mapping (both ways):
//! | card field | vCard |
//! |---|---|
//! | full_name | `FN` (else `N` family + given) |
//! | name_reading | `X-PHONETIC-LAST-NAME` + `X-PHONETIC-FIRST-NAME` (Apple, Android, Google); else `SOUND;X-IRMC-N` (Outlook, phones); else `N;SORT-AS=`; else `SORT-STRING` |
//! | company, department | `ORG`: first component; the others joined by a space |
//! | title | `TITLE` |
//! | email | the first `EMAIL` (a `PREF` one first) |
//! | phone, mobile, fax | the first `TEL` of each kind: `CELL` → mobile, `FAX` → fax, else phone |
//! | postal_code, address | the first `ADR` (a `WORK` one first): postal code; region, locality, street, extended (Japanese order, no spaces when Japanese) |
//! | url | the first `URL` |
//! | exchanged_on | `X-MEISHI-EXCHANGED-ON` |
//! | tags | `CATEGORIES` |
//! | owner | `X-MEISHI-OWNER` (an email) |
//!
//! Every other property (a second `EMAIL`, `NOTE`, `BDAY`, `X-ABLabel`, `PHOTO` …) is kept in
//! `extra.vcard` as a 4.0 line and written back on export. `VERSION`, `PRODID`, `REV`, `UID`
//! and `N` (covered by `FN`) are not kept.

use super::{ExportRow, FileError, LineError, RawCard, TextEncoding, is_utf8_japanese};
use calcard::vcard::{
    VCard, VCardEntry, VCardParameterName, VCardParameterValue, VCardProperty, VCardType, VCardValue,
};
use std::io::BufRead;

/// A card larger than this is refused (photos included).
const MAX_CARD_BYTES: usize = 16 * 1024 * 1024;

/// One card's physical lines, with their line numbers.
pub struct CardLines {
    pub line: u64,
    pub lines: Vec<(u64, Vec<u8>)>,
}

/// Splits a vCard file into cards, one at a time.
pub struct VcardFile<R: BufRead> {
    input: R,
    line: u64,
    cards: u64,
    buf: Vec<u8>,
}

fn is_marker(line: &[u8], marker: &str) -> bool {
    let t = line.trim_ascii();
    let t = t.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(t);
    t.eq_ignore_ascii_case(marker.as_bytes())
}

impl<R: BufRead> VcardFile<R> {
    pub fn new(input: R) -> Self {
        Self {
            input,
            line: 0,
            cards: 0,
            buf: Vec::new(),
        }
    }

    pub fn line(&self) -> u64 {
        self.line
    }

    fn read_line(&mut self) -> Result<bool, FileError> {
        self.buf.clear();
        let n = self
            .input
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| FileError::new(self.line + 1, "", format!("cannot read the file: {e}")))?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        while self.buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            self.buf.pop();
        }
        Ok(true)
    }

    pub fn next_card(&mut self) -> Option<Result<CardLines, FileError>> {
        // Outside a card only blank lines may appear.
        loop {
            match self.read_line() {
                Err(e) => return Some(Err(e)),
                Ok(false) if self.cards == 0 => {
                    return Some(Err(FileError::new(0, "", "not a vCard file: it holds no BEGIN:VCARD")));
                }
                Ok(false) => return None,
                Ok(true) if self.buf.trim_ascii().is_empty() => continue,
                Ok(true) if is_marker(&self.buf, "BEGIN:VCARD") => break,
                Ok(true) => {
                    let what = if self.cards == 0 { "not a vCard file: " } else { "" };
                    return Some(Err(FileError::new(
                        self.line,
                        "",
                        format!("{what}expected BEGIN:VCARD, found '{}'", preview(&self.buf)),
                    )));
                }
            }
        }
        self.cards += 1;
        let start = self.line;
        let mut card = CardLines {
            line: start,
            lines: vec![(start, b"BEGIN:VCARD".to_vec())],
        };
        let (mut depth, mut size) = (1, 0usize);
        loop {
            match self.read_line() {
                Err(e) => return Some(Err(e)),
                Ok(false) => {
                    return Some(Err(FileError::new(
                        start,
                        "",
                        format!("the file is truncated: the card that starts on line {start} has no END:VCARD"),
                    )));
                }
                Ok(true) => {}
            }
            if is_marker(&self.buf, "BEGIN:VCARD") {
                depth += 1; // a 2.1 AGENT card inside this one
            } else if is_marker(&self.buf, "END:VCARD") {
                depth -= 1;
                if depth == 0 {
                    card.lines.push((self.line, b"END:VCARD".to_vec()));
                    return Some(Ok(card));
                }
            }
            size += self.buf.len();
            if size > MAX_CARD_BYTES {
                return Some(Err(FileError::new(start, "", "a card larger than 16 MB")));
            }
            card.lines.push((self.line, self.buf.clone()));
        }
    }
}

fn preview(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(40)]);
    s.chars().filter(|c| !c.is_control()).collect()
}

/// One unfolded property line: where it starts, its upper-cased name, and its raw bytes.
struct Logical {
    line: u64,
    qp: bool,
    bytes: Vec<u8>,
}

/// Index of the first `:` outside double quotes.
fn colon_at(b: &[u8]) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in b.iter().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b':' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn split_unquoted(b: &[u8], sep: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut quoted, mut from) = (false, 0);
    for (i, c) in b.iter().enumerate() {
        if *c == b'"' {
            quoted = !quoted;
        } else if *c == sep && !quoted {
            out.push(&b[from..i]);
            from = i + 1;
        }
    }
    out.push(&b[from..]);
    out
}

fn is_qp_head(b: &[u8]) -> bool {
    let head = &b[..colon_at(b).unwrap_or(b.len())];
    head.to_ascii_uppercase().windows(16).any(|w| w == b"QUOTED-PRINTABLE")
}

fn unfold(lines: &[(u64, Vec<u8>)]) -> Vec<Logical> {
    let mut out: Vec<Logical> = Vec::with_capacity(lines.len());
    for (n, l) in lines {
        if let Some(last) = out.last_mut() {
            // A 2.1 QUOTED-PRINTABLE soft line break: `=` at the end, continued on the next line.
            if last.qp && last.bytes.last() == Some(&b'=') {
                last.bytes.pop();
                last.bytes.extend_from_slice(l.trim_ascii_start());
                continue;
            }
            if matches!(l.first(), Some(b' ' | b'\t')) {
                last.bytes.extend_from_slice(&l[1..]);
                continue;
            }
        }
        if l.is_empty() {
            continue;
        }
        out.push(Logical {
            line: *n,
            qp: is_qp_head(l),
            bytes: l.clone(),
        });
    }
    out
}

fn qp_decode(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() + 1 {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (b.get(i + 1).and_then(|c| hex(*c)), b.get(i + 2).and_then(|c| hex(*c))) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The card's lines as one UTF-8, 3.0/4.0-style text calcard can read, each property's line
/// number and upper-cased name in order, and warnings: a value whose bytes are not valid in
/// its declared CHARSET (or, undeclared, neither UTF-8 nor Shift_JIS) is decoded with U+FFFD
/// for the bad bytes and named in a warning, as the mature vCard readers do (one bad byte in
/// an Android export's ORG refused the whole file).
fn normalise(card: &CardLines, enc: TextEncoding) -> Result<Normalised, FileError> {
    let mut text = String::new();
    let mut names = Vec::new();
    let mut warnings = Vec::new();
    for l in unfold(&card.lines) {
        let Some(colon) = colon_at(&l.bytes) else {
            continue; // a line without a value: ignored, as clients do
        };
        let (head, value) = (&l.bytes[..colon], &l.bytes[colon + 1..]);
        let mut parts = split_unquoted(head, b';').into_iter();
        let name = String::from_utf8_lossy(parts.next().unwrap_or_default())
            .trim()
            .to_string();
        let mut params = String::new();
        let mut charset: Option<String> = None;
        for p in parts {
            let p = String::from_utf8_lossy(p).trim().to_string();
            if p.is_empty() {
                continue;
            }
            match p.split_once('=') {
                Some((k, v)) => {
                    let ku = k.trim().to_ascii_uppercase();
                    let vu = v.trim().trim_matches('"').to_ascii_uppercase();
                    match (ku.as_str(), vu.as_str()) {
                        ("CHARSET", _) => charset = Some(vu),
                        ("ENCODING", "QUOTED-PRINTABLE" | "8BIT" | "7BIT") => {}
                        ("ENCODING", "BASE64" | "B") => params.push_str(";ENCODING=b"),
                        _ => {
                            params.push(';');
                            params.push_str(&p);
                        }
                    }
                }
                None => match p.to_ascii_uppercase().as_str() {
                    "QUOTED-PRINTABLE" | "8BIT" | "7BIT" => {}
                    "BASE64" => params.push_str(";ENCODING=b"),
                    _ => {
                        params.push_str(";TYPE=");
                        params.push_str(&p);
                    }
                },
            }
        }
        let raw = if l.qp { qp_decode(value) } else { value.to_vec() };
        let bad = |m: String| FileError::new(l.line, "encoding", format!("{name}: {m}"));
        let mut lossy = |label: &str| {
            warnings.push(LineError::new(
                l.line,
                "encoding",
                format!("{name}: bytes that are not valid {label} were read as U+FFFD (�)"),
            ));
        };
        let decoded: String = match charset.as_deref() {
            Some(label) if label != "UTF-8" && label != "US-ASCII" => {
                let e = encoding_rs::Encoding::for_label(label.as_bytes())
                    .ok_or_else(|| bad(format!("unknown CHARSET={label}")))?;
                let (s, _, errors) = e.decode(&raw);
                if errors {
                    lossy(label);
                }
                s.into_owned()
            }
            Some(_) if std::str::from_utf8(&raw).is_err() => {
                lossy("UTF-8");
                String::from_utf8_lossy(&raw).into_owned()
            }
            _ => match (std::str::from_utf8(&raw), enc) {
                (Ok(s), TextEncoding::ShiftJis) if charset.is_none() && is_utf8_japanese(s.as_bytes()) => {
                    return Err(bad(
                        "the text is UTF-8, not Shift_JIS: import it with encoding=utf-8 (or auto)".into(),
                    ));
                }
                (Ok(s), TextEncoding::Utf8 | TextEncoding::Auto) => s.to_string(),
                (_, TextEncoding::Utf8) => {
                    return Err(bad(
                        "not valid UTF-8: is the file Shift_JIS? import it with encoding=shift_jis (or auto)".into(),
                    ));
                }
                (_, _) => match encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(&raw) {
                    Some(s) => s.into_owned(),
                    None => {
                        lossy("UTF-8 or Shift_JIS");
                        String::from_utf8_lossy(&raw).into_owned()
                    }
                },
            },
        };
        // Decoded QP may hold real line breaks; 3.0/4.0 write them as `\n`.
        let decoded = if l.qp {
            decoded.replace("\r\n", "\\n").replace(['\n', '\r'], "\\n")
        } else {
            decoded
        };
        text.push_str(&name);
        text.push_str(&params);
        text.push(':');
        text.push_str(&decoded);
        text.push_str("\r\n");
        let bare = name.rsplit('.').next().unwrap_or(&name).to_ascii_uppercase();
        names.push((l.line, bare));
    }
    Ok(Normalised { text, names, warnings })
}

struct Normalised {
    text: String,
    names: Vec<(u64, String)>,
    warnings: Vec<LineError>,
}

fn texts(e: &VCardEntry) -> Vec<String> {
    e.values
        .iter()
        .map(|v| match v {
            VCardValue::Text(s) => s.clone(),
            VCardValue::Component(c) => c.join(","),
            VCardValue::Integer(i) => i.to_string(),
            VCardValue::Float(f) => f.to_string(),
            VCardValue::Boolean(b) => b.to_string(),
            VCardValue::PartialDateTime(d) => {
                let mut s = String::new();
                let _ = d.format_as_vcard(&mut s, &calcard::vcard::VCardValueType::Date);
                s
            }
            _ => String::new(),
        })
        .collect()
}

fn text_of(e: &VCardEntry) -> String {
    texts(e).join(",").trim().to_string()
}

/// The TYPE values of a property, upper-cased.
fn types(e: &VCardEntry) -> Vec<String> {
    let mut out = Vec::new();
    for p in &e.params {
        let v = match (&p.name, &p.value) {
            (VCardParameterName::Type, VCardParameterValue::Type(t)) => match t {
                VCardType::Cell => "CELL".to_string(),
                VCardType::Fax => "FAX".to_string(),
                VCardType::Work => "WORK".to_string(),
                VCardType::Home => "HOME".to_string(),
                VCardType::Voice => "VOICE".to_string(),
                VCardType::Pager => "PAGER".to_string(),
                other => format!("{other:?}").to_ascii_uppercase(),
            },
            (VCardParameterName::Type, VCardParameterValue::Text(s)) => s.to_ascii_uppercase(),
            (VCardParameterName::Pref, _) => "PREF".to_string(),
            _ => continue,
        };
        out.push(v);
    }
    out
}

fn param_text(e: &VCardEntry, name: &VCardParameterName) -> Option<String> {
    let vals: Vec<String> = e
        .params
        .iter()
        .filter(|p| &p.name == name)
        .filter_map(|p| match &p.value {
            VCardParameterValue::Text(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    (!vals.is_empty()).then(|| vals.join(","))
}

fn other_name(e: &VCardEntry) -> String {
    match &e.name {
        VCardProperty::Other(s) => s.to_ascii_uppercase(),
        p => p.as_str().to_ascii_uppercase(),
    }
}

fn join_nonempty(parts: &[&str], sep: &str) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(sep)
}

fn is_japanese(s: &str) -> bool {
    s.chars().any(|c| (c as u32) >= 0x3000)
}

/// A parsed card: the card, and for each card field the line its property was on.
pub struct VcardCard {
    pub card: RawCard,
    lines: Vec<(&'static str, u64)>,
    /// Values read with replacement characters (see `normalise`).
    pub warnings: Vec<LineError>,
}

impl VcardCard {
    /// Puts a check error on the property's own line, named by the property.
    pub fn locate(&self, mut e: LineError) -> LineError {
        if let Some((_, l)) = self.lines.iter().find(|(f, _)| *f == e.field) {
            e.line = *l;
        }
        e.field = property_of(&e.field).to_string();
        e
    }
}

/// The vCard property a card field comes from, for error messages.
pub fn property_of(field: &str) -> &str {
    match field {
        "full_name" => "FN",
        "name_reading" => "X-PHONETIC-LAST-NAME",
        "company" | "department" => "ORG",
        "title" => "TITLE",
        "email" => "EMAIL",
        "phone" | "mobile" | "fax" => "TEL",
        "postal_code" | "address" => "ADR",
        "url" => "URL",
        "exchanged_on" => "X-MEISHI-EXCHANGED-ON",
        "tags" => "CATEGORIES",
        "owner" => "X-MEISHI-OWNER",
        other => other,
    }
}

/// Reads one card. A problem with the bytes (encoding) is a file error; a card calcard cannot
/// read is a line error.
pub fn parse_card(card: &CardLines, enc: TextEncoding) -> Result<Result<VcardCard, LineError>, FileError> {
    let Normalised { text, names, warnings } = normalise(card, enc)?;
    let vc = match VCard::parse(&text) {
        Ok(v) => v,
        Err(e) => {
            return Ok(Err(LineError::new(
                card.line,
                "",
                format!("not a readable vCard: {e:?}"),
            )));
        }
    };
    let mut raw = RawCard {
        line: card.line,
        ..Default::default()
    };
    let mut lines: Vec<(&'static str, u64)> = Vec::new();
    let mut extra: Vec<String> = Vec::new();
    let (mut ph_last, mut ph_first, mut irmc, mut sort_as, mut sort_string) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    let mut n_name = String::new();
    let mut cursor = 0;
    // Preferred entries first: a PREF email, a WORK address.
    let mut email: Option<(usize, u64)> = None;
    let mut adr: Option<(usize, u64)> = None;
    let entries: Vec<(u64, &VCardEntry)> = vc
        .entries
        .iter()
        .map(|e| {
            let name = other_name(e);
            let line = match names[cursor..].iter().position(|(_, n)| *n == name) {
                Some(i) => {
                    cursor += i + 1;
                    names[cursor - 1].0
                }
                None => card.line,
            };
            (line, e)
        })
        .collect();
    let mut used = vec![false; entries.len()];
    for (i, (line, e)) in entries.iter().enumerate() {
        let t = types(e);
        let mut take = |slot: &mut String, field: &'static str| -> bool {
            if slot.is_empty() {
                *slot = text_of(e);
                lines.push((field, *line));
                true
            } else {
                false
            }
        };
        used[i] = match &e.name {
            VCardProperty::Begin | VCardProperty::End | VCardProperty::Version => true,
            VCardProperty::Prodid | VCardProperty::Rev | VCardProperty::Uid => true,
            VCardProperty::Fn => take(&mut raw.fields.full_name, "full_name"),
            VCardProperty::N => {
                let c = texts(e);
                let get = |k: usize| c.get(k).map(String::as_str).unwrap_or("");
                n_name = join_nonempty(&[get(0), get(1)], " ");
                if let Some(s) = param_text(e, &VCardParameterName::SortAs) {
                    sort_as = s.replace(',', " ");
                }
                lines.push(("full_name", *line));
                true
            }
            VCardProperty::Org if raw.fields.company.is_empty() && raw.fields.department.is_empty() => {
                let c = texts(e);
                raw.fields.company = c.first().cloned().unwrap_or_default();
                raw.fields.department = join_nonempty(&c.iter().skip(1).map(String::as_str).collect::<Vec<_>>(), " ");
                lines.push(("company", *line));
                lines.push(("department", *line));
                true
            }
            VCardProperty::Title => take(&mut raw.fields.title, "title"),
            VCardProperty::Url => take(&mut raw.fields.url, "url"),
            VCardProperty::Email => {
                if email.is_none()
                    || (t.contains(&"PREF".to_string())
                        && !entries[email.unwrap().0]
                            .1
                            .params
                            .iter()
                            .any(|p| p.name == VCardParameterName::Pref)
                        && !types(entries[email.unwrap().0].1).contains(&"PREF".to_string()))
                {
                    email = Some((i, *line));
                }
                false // decided below
            }
            VCardProperty::Tel => {
                if t.iter().any(|x| x == "CELL") {
                    take(&mut raw.fields.mobile, "mobile")
                } else if t.iter().any(|x| x == "FAX") {
                    take(&mut raw.fields.fax, "fax")
                } else if t.iter().any(|x| x == "PAGER") {
                    false
                } else {
                    take(&mut raw.fields.phone, "phone")
                }
            }
            VCardProperty::Adr => {
                let work = t.iter().any(|x| x == "WORK");
                let current_work = adr.is_some_and(|(j, _)| types(entries[j].1).iter().any(|x| x == "WORK"));
                if adr.is_none() || (work && !current_work) {
                    adr = Some((i, *line));
                }
                false
            }
            VCardProperty::Categories => {
                for v in &e.values {
                    match v {
                        VCardValue::Component(c) => raw.tags.extend(c.iter().map(|t| t.trim().to_string())),
                        VCardValue::Text(t) => raw.tags.push(t.trim().to_string()),
                        _ => {}
                    }
                }
                lines.push(("tags", *line));
                true
            }
            VCardProperty::Other(_) => match other_name(e).as_str() {
                "X-PHONETIC-LAST-NAME" => take(&mut ph_last, "name_reading"),
                "X-PHONETIC-FIRST-NAME" => take(&mut ph_first, "name_reading"),
                "SORT-STRING" => take(&mut sort_string, "name_reading"),
                "X-MEISHI-EXCHANGED-ON" => take(&mut raw.exchanged_on, "exchanged_on"),
                "X-MEISHI-OWNER" => take(&mut raw.owner, "owner"),
                _ => false,
            },
            VCardProperty::Sound
                if irmc.is_empty()
                    && (param_text(e, &VCardParameterName::Type)
                        .is_some_and(|v| v.eq_ignore_ascii_case("X-IRMC-N"))
                        || t.iter().any(|x| x == "X-IRMC-N")) =>
            {
                // SOUND is a single text to calcard: split the IrMC family;given;… here.
                let t = text_of(e);
                irmc = join_nonempty(&t.split(';').take(2).collect::<Vec<_>>(), " ");
                lines.push(("name_reading", *line));
                true
            }
            _ => false,
        };
    }
    if let Some((i, line)) = email {
        raw.fields.email = text_of(entries[i].1);
        lines.push(("email", line));
        used[i] = true;
    }
    if let Some((i, line)) = adr {
        let c = texts(entries[i].1);
        let get = |k: usize| c.get(k).map(String::as_str).unwrap_or("");
        // pobox; extended; street; locality; region; postal code; country
        let (ext, street, locality, region, country) = (get(1), get(2), get(3), get(4), get(6));
        raw.fields.postal_code = get(5).trim().to_string();
        let mut address = if is_japanese(&format!("{region}{locality}{street}")) {
            join_nonempty(&[region, locality, street, ext], "")
        } else {
            join_nonempty(&[street, ext, locality, region], ", ")
        };
        if !country.trim().is_empty() && !matches!(country.trim(), "日本" | "Japan" | "JP" | "JAPAN" | "日本国") {
            address = join_nonempty(&[&address, country], " ");
        }
        let pobox = get(0).trim();
        if !pobox.is_empty() {
            address = join_nonempty(&[pobox, &address], " ");
        }
        raw.fields.address = address;
        lines.push(("postal_code", line));
        lines.push(("address", line));
        used[i] = true;
    }
    if raw.fields.full_name.trim().is_empty() {
        raw.fields.full_name = n_name;
    }
    raw.fields.name_reading = [join_nonempty(&[&ph_last, &ph_first], " "), irmc, sort_as, sort_string]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .unwrap_or_default();
    for ((_, e), used) in entries.iter().zip(&used) {
        if !used {
            let mut s = String::new();
            if e.write_to(&mut s, true).is_ok() {
                // Kept unfolded (readable in the card's JSON); folded again on export.
                extra.push(
                    s.trim_end_matches(['\r', '\n'])
                        .replace("\r\n ", "")
                        .replace("\r\n\t", ""),
                );
            }
        }
    }
    if !extra.is_empty() {
        raw.extra.insert("vcard".into(), extra.into());
    }
    Ok(Ok(VcardCard {
        card: raw,
        lines,
        warnings,
    }))
}

// --- writing ---

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, utoipa::ToSchema)]
pub enum VcardVersion {
    #[serde(rename = "3.0")]
    V3,
    #[default]
    #[serde(rename = "4.0")]
    V4,
}

fn escape_into(out: &mut String, s: &str, component: bool) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            ',' => out.push_str("\\,"),
            ';' if component => out.push_str("\\;"),
            c => out.push(c),
        }
    }
}

/// Appends one property line, folded at 75 octets (never inside a UTF-8 character).
fn line(out: &mut String, name: &str, values: &[&str], component: bool) {
    let mut l = String::with_capacity(name.len() + 64);
    l.push_str(name);
    l.push(':');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            l.push(';');
        }
        escape_into(&mut l, v, component);
    }
    fold_into(out, &l);
}

fn fold_into(out: &mut String, l: &str) {
    if l.len() <= 75 {
        out.push_str(l);
        out.push_str("\r\n");
        return;
    }
    let mut width = 0;
    let mut limit = 75;
    for c in l.chars() {
        let n = c.len_utf8();
        if width + n > limit {
            out.push_str("\r\n ");
            width = 0;
            limit = 74;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn split_first_space(s: &str) -> (&str, &str) {
    match s.split_once(' ') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    }
}

/// Appends one card. `id` becomes its UID.
pub fn write_card(out: &mut String, id: &str, r: &ExportRow, v: VcardVersion) {
    let f = &r.fields;
    let v4 = v == VcardVersion::V4;
    out.push_str("BEGIN:VCARD\r\n");
    out.push_str(if v4 { "VERSION:4.0\r\n" } else { "VERSION:3.0\r\n" });
    out.push_str("UID:urn:uuid:");
    out.push_str(id);
    out.push_str("\r\n");
    line(out, "FN", &[&f.full_name], false);
    let (family, given) = split_first_space(&f.full_name);
    line(out, "N", &[family, given, "", "", ""], true);
    if !f.name_reading.is_empty() {
        let (last, first) = split_first_space(&f.name_reading);
        line(out, "X-PHONETIC-LAST-NAME", &[last], false);
        if !first.is_empty() {
            line(out, "X-PHONETIC-FIRST-NAME", &[first], false);
        }
    }
    if !f.company.is_empty() || !f.department.is_empty() {
        if f.department.is_empty() {
            line(out, "ORG", &[&f.company], true);
        } else {
            line(out, "ORG", &[&f.company, &f.department], true);
        }
    }
    let t = |v4: &'static str, v3: &'static str| if v4_or(v) { v4 } else { v3 };
    if !f.title.is_empty() {
        line(out, "TITLE", &[&f.title], false);
    }
    if !f.email.is_empty() {
        line(
            out,
            t("EMAIL;TYPE=work", "EMAIL;TYPE=INTERNET,WORK"),
            &[&f.email],
            false,
        );
    }
    if !f.phone.is_empty() {
        line(out, t("TEL;TYPE=work,voice", "TEL;TYPE=WORK,VOICE"), &[&f.phone], false);
    }
    if !f.mobile.is_empty() {
        line(out, t("TEL;TYPE=cell", "TEL;TYPE=CELL"), &[&f.mobile], false);
    }
    if !f.fax.is_empty() {
        line(out, t("TEL;TYPE=work,fax", "TEL;TYPE=WORK,FAX"), &[&f.fax], false);
    }
    if !f.address.is_empty() || !f.postal_code.is_empty() {
        line(
            out,
            t("ADR;TYPE=work", "ADR;TYPE=WORK"),
            &["", "", &f.address, "", "", &f.postal_code, ""],
            true,
        );
    }
    if !f.url.is_empty() {
        line(out, "URL", &[&f.url], false);
    }
    if !r.tags.is_empty() {
        let mut l = String::from("CATEGORIES:");
        for (i, tag) in r.tags.iter().enumerate() {
            if i > 0 {
                l.push(',');
            }
            escape_into(&mut l, tag, true);
        }
        fold_into(out, &l);
    }
    if let Some(d) = f.exchanged_on {
        out.push_str("X-MEISHI-EXCHANGED-ON:");
        out.push_str(&d.format("%Y-%m-%d").to_string());
        out.push_str("\r\n");
    }
    if !r.owner.is_empty() {
        line(out, "X-MEISHI-OWNER", &[&r.owner], false);
    }
    if let Some(extra) = r.extra.as_deref()
        && let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(extra)
        && let Some(serde_json::Value::Array(lines)) = m.get("vcard")
    {
        for l in lines.iter().filter_map(|l| l.as_str()) {
            fold_into(out, l);
        }
    }
    out.push_str("END:VCARD\r\n");
}

fn v4_or(v: VcardVersion) -> bool {
    v == VcardVersion::V4
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::CardFields;

    fn read(input: &[u8], enc: TextEncoding) -> Vec<RawCard> {
        let mut f = VcardFile::new(input);
        let mut out = vec![];
        while let Some(c) = f.next_card() {
            let c = c.unwrap();
            out.push(parse_card(&c, enc).unwrap().unwrap().card);
        }
        out
    }

    #[test]
    fn iphone_3_0_grouped_and_phonetic() {
        let s = "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\nN:田中;一郎;;;\r\nFN:田中 一郎\r\nX-PHONETIC-FIRST-NAME:イチロウ\r\nX-PHONETIC-LAST-NAME:タナカ\r\nORG:株式会社サンプル;営業本部;第一営業部;\r\nTITLE:課長\r\nitem1.EMAIL;type=INTERNET;type=pref:ichiro@sample.co.jp\r\nitem1.X-ABLabel:_$!<Work>!$_\r\nEMAIL;type=INTERNET;type=HOME:ichiro@home.example\r\nTEL;type=CELL;type=VOICE;type=pref:090-1111-2222\r\nTEL;type=WORK;type=VOICE:03-1234-5678\r\nitem2.ADR;type=WORK;type=pref:;;丸の内1-1-1\\nサンプルビル;千代田区;東京都;100-0005;日本\r\nitem2.X-ABADR:jp\r\nNOTE:展示会で名刺交換。とても長いメモがここに入ります。とても長いメモがここに入りま\r\n す。\r\nEND:VCARD\r\n";
        let c = &read(s.as_bytes(), TextEncoding::Auto)[0];
        assert_eq!(c.fields.full_name, "田中 一郎");
        assert_eq!(c.fields.name_reading, "タナカ イチロウ");
        assert_eq!(c.fields.company, "株式会社サンプル");
        assert_eq!(c.fields.department, "営業本部 第一営業部");
        assert_eq!(c.fields.email, "ichiro@sample.co.jp");
        assert_eq!(c.fields.mobile, "090-1111-2222");
        assert_eq!(c.fields.phone, "03-1234-5678");
        assert_eq!(c.fields.postal_code, "100-0005");
        assert_eq!(c.fields.address, "東京都千代田区丸の内1-1-1\nサンプルビル");
        let extra = c.extra["vcard"].as_array().unwrap();
        let joined: Vec<&str> = extra.iter().map(|v| v.as_str().unwrap()).collect();
        assert!(joined.iter().any(|l| l.contains("ichiro@home.example")), "{joined:?}");
        assert!(joined.iter().any(|l| l.starts_with("NOTE:")), "{joined:?}");
    }

    #[test]
    fn outlook_2_1_shift_jis_and_qp() {
        let mut sjis = Vec::new();
        let body = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;LANGUAGE=ja;CHARSET=SHIFT_JIS:髙橋;花子\r\nFN;CHARSET=SHIFT_JIS:髙橋 花子\r\nSOUND;X-IRMC-N;CHARSET=SHIFT_JIS:ﾀｶﾊｼ;ﾊﾅｺ;;;\r\nORG;CHARSET=SHIFT_JIS:株式会社サンプル①;開発部\r\nTEL;WORK;VOICE:03-0000-0000\r\nTEL;CELL;VOICE:080-0000-0000\r\nEMAIL;PREF;INTERNET:hanako@sample.co.jp\r\nEND:VCARD\r\n";
        crate::formats::to_shift_jis(body, &mut sjis);
        let c = &read(&sjis, TextEncoding::Auto)[0];
        assert_eq!(c.fields.full_name, "髙橋 花子");
        assert_eq!(c.fields.name_reading, "ﾀｶﾊｼ ﾊﾅｺ");
        assert_eq!(c.fields.company, "株式会社サンプル①");
        assert_eq!(c.fields.mobile, "080-0000-0000");
        assert_eq!(c.fields.email, "hanako@sample.co.jp");

        // Android 2.1: UTF-8 quoted-printable with soft line breaks.
        let qp = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=B1=B1=E7=94=B0;=E5=A4=AA=E9=83=8E;;;\r\nFN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=B1=B1=E7=94=B0=20=E5=A4=AA=\r\n=E9=83=8E\r\nX-PHONETIC-LAST-NAME;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E3=83=A4=E3=83=9E=E3=83=80\r\nNOTE;ENCODING=QUOTED-PRINTABLE:line1=0D=0Aline2\r\nEND:VCARD\r\n";
        let c = &read(qp.as_bytes(), TextEncoding::Auto)[0];
        assert_eq!(c.fields.full_name, "山田 太郎");
        assert_eq!(c.fields.name_reading, "ヤマダ");
        let note = c.extra["vcard"][0].as_str().unwrap();
        assert!(note.contains("line1\\nline2"), "{note}");
    }

    #[test]
    fn truncated_and_not_vcard() {
        let mut f = VcardFile::new(&b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\n"[..]);
        let e = f.next_card().unwrap().err().unwrap();
        assert!(e.0.message.contains("truncated"));
        let mut f = VcardFile::new(&b"hello\n"[..]);
        assert!(f.next_card().unwrap().err().unwrap().0.message.contains("not a vCard"));
        let mut f = VcardFile::new(&b""[..]);
        assert!(f.next_card().unwrap().is_err());
    }

    #[test]
    fn round_trip_both_versions() {
        let row = ExportRow {
            fields: CardFields {
                full_name: "田中 一郎".into(),
                name_reading: "タナカ イチロウ".into(),
                company: "株式会社A;B".into(),
                department: "営業部 第一課".into(),
                title: "課長, 代理".into(),
                email: "a@b.jp".into(),
                phone: "03-1".into(),
                mobile: "090-2".into(),
                fax: "03-3".into(),
                postal_code: "100-0005".into(),
                address: "東京都千代田区丸の内1-1-1\nとても長い建物の名前がここに入りますとても長い建物の名前がここに入ります".into(),
                url: "https://a.example/x?y=1;z=2".into(),
                exchanged_on: chrono::NaiveDate::from_ymd_opt(2026, 4, 1),
            },
            tags: vec!["展示会".into(), "a,b".into()],
            owner: "o@x.jp".into(),
            extra: Some(r#"{"vcard":["NOTE:memo","item2.EMAIL;TYPE=home:h@x.jp"]}"#.into()),
        };
        for v in [VcardVersion::V3, VcardVersion::V4] {
            let mut s = String::new();
            write_card(&mut s, "0190-x", &row, v);
            assert!(s.lines().all(|l| l.len() <= 75), "{s}");
            let c = &read(s.as_bytes(), TextEncoding::Utf8)[0];
            assert_eq!(c.fields, row.fields.clone().tap_date(), "{s}");
            assert_eq!(c.exchanged_on, "2026-04-01");
            assert_eq!(c.tags, row.tags);
            assert_eq!(c.owner, "o@x.jp");
            let extra = c.extra["vcard"].as_array().unwrap();
            assert_eq!(extra.len(), 2, "{extra:?}");
        }
    }

    trait TapDate {
        fn tap_date(self) -> Self;
    }
    impl TapDate for CardFields {
        fn tap_date(mut self) -> Self {
            self.exchanged_on = None;
            self
        }
    }
}
