//! Cards as CSV: reading the header-driven files Japanese card services export (Sansan-style
//! Japanese headers, full-width or half-width brackets alike) and meishi's own English header;
//! writing either header. Pure: bytes in, cards out, no I/O of its own.
//!
//! Shift_JIS is parsed as bytes and decoded field by field: its trail bytes (0x40–0xFC) never
//! collide with `"`, `,`, CR or LF, so the CSV structure is the same in both encodings.

use super::{ExportRow, FileError, LineError, RawCard, TextEncoding, decode, is_utf8_japanese};
use crate::domain::CardFields;
use chrono::Datelike;
use std::io::Read;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    FullName,
    FamilyName,
    GivenName,
    NameReading,
    ReadingFamily,
    ReadingGiven,
    Company,
    Department,
    Title,
    Email,
    Phone,
    Mobile,
    Fax,
    PostalCode,
    Address,
    Url,
    ExchangedOn,
    Tags,
    Owner,
    Extra,
    Unknown,
}

/// The column a header names. Compared after NFKC (so `（カナ）` = `(カナ)`, `［全て］` =
/// `[全て]`), lower-cased, without spaces.
pub fn column_of(header: &str) -> Column {
    let key: String = header
        .nfkc()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    use Column::*;
    match key.as_str() {
        "full_name" | "name" | "氏名" | "名前" | "フルネーム" => FullName,
        "family_name" | "last_name" | "氏名[姓]" | "姓" => FamilyName,
        "given_name" | "first_name" | "氏名[名]" | "名" => GivenName,
        "name_reading" | "氏名(カナ)" | "氏名(フリガナ)" | "フリガナ" | "ふりがな" | "カナ" | "よみがな" => {
            NameReading
        }
        "氏名(カナ)[姓]" | "姓(カナ)" | "セイ" | "フリガナ(姓)" => ReadingFamily,
        "氏名(カナ)[名]" | "名(カナ)" | "メイ" | "フリガナ(名)" => ReadingGiven,
        "company" | "会社名" | "会社" | "企業名" => Company,
        "department" | "部署名" | "部署" | "所属" => Department,
        "title" | "役職" | "役職名" => Title,
        "email" | "e-mail" | "email(1)" | "e-mail(1)" | "メールアドレス" | "メール" => Email,
        "phone" | "tel" | "tel(1)" | "tel-1(1)" | "電話番号" | "電話番号(1)" | "会社電話" => Phone,
        "mobile" | "携帯電話" | "携帯電話(1)" | "携帯" | "携帯番号" => Mobile,
        "fax" | "fax(1)" | "fax番号" => Fax,
        "postal_code" | "郵便番号" | "郵便番号(1)" | "〒" => PostalCode,
        "address" | "住所" | "住所(1)" | "住所(1)[全て]" | "住所[全て]" => Address,
        "url" | "url(1)" | "ホームページ" | "webサイト" => Url,
        "exchanged_on" | "名刺交換日" | "交換日" => ExchangedOn,
        "tags" | "tag" | "タグ" => Tags,
        "owner" | "owner_email" | "名刺所有者ユーザid" | "名刺所有者" | "所有者" | "所有者メールアドレス" => {
            Owner
        }
        "extra" => Extra,
        _ => Unknown,
    }
}

/// The card field a column fills, as `CardFields::parse` names it.
fn field_of(c: Column) -> &'static str {
    use Column::*;
    match c {
        FullName | FamilyName | GivenName => "full_name",
        NameReading | ReadingFamily | ReadingGiven => "name_reading",
        Company => "company",
        Department => "department",
        Title => "title",
        Email => "email",
        Phone => "phone",
        Mobile => "mobile",
        Fax => "fax",
        PostalCode => "postal_code",
        Address => "address",
        Url => "url",
        ExchangedOn => "exchanged_on",
        Tags => "tags",
        Owner => "owner",
        Extra => "extra",
        Unknown => "",
    }
}

/// Separators between tag names in one cell.
const TAG_SEPARATORS: [char; 3] = [';', '；', '\n'];

/// Reads cards from CSV bytes, one row at a time.
/// The longest CSV record (row) read: a longer one stops the import as it streams, before it
/// is held in memory whole (like vCard's `MAX_CARD_BYTES`).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// The input as the CSV reader gets it, measuring each record as the bytes go by: quotes
/// open and close fields (`""` closes and opens again), a line feed outside quotes ends a
/// record. Works the same on Shift_JIS, whose second bytes are never `"` or LF.
struct RecordLimit<R> {
    inner: R,
    quoted: bool,
    record: usize,
    line: u64,
}

impl<R: Read> Read for RecordLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            match b {
                b'"' => self.quoted = !self.quoted,
                b'\n' if !self.quoted => {
                    self.record = 0;
                    self.line += 1;
                    continue;
                }
                b'\n' => self.line += 1,
                _ => {}
            }
            self.record += 1;
            if self.record > MAX_RECORD_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "a row longer than {} MiB (from line {}): is a quote never closed?",
                        MAX_RECORD_BYTES / (1024 * 1024),
                        self.line
                    ),
                ));
            }
        }
        Ok(n)
    }
}

pub struct CsvCards<R: Read> {
    rdr: csv::Reader<RecordLimit<R>>,
    enc: TextEncoding,
    columns: Vec<Column>,
    headers: Vec<String>,
    /// Unknown columns, reported once (their values are kept in `extra`): the first
    /// `MAX_LISTED_ERRORS`, and `warning_count` in all.
    pub warnings: Vec<LineError>,
    pub warning_count: u64,
    record: csv::ByteRecord,
    /// With CRLF line ends the csv crate starts the next record on the LF, one line early.
    line_shift: u64,
}

impl<R: Read> CsvCards<R> {
    /// Reads the header. `enc` is UTF-8 or Shift_JIS (already detected when it was `auto`).
    pub fn new(input: R, enc: TextEncoding) -> Result<Self, FileError> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(RecordLimit {
                inner: input,
                quoted: false,
                record: 0,
                line: 1,
            });
        let mut rec = csv::ByteRecord::new();
        let got = rdr
            .read_byte_record(&mut rec)
            .map_err(|e| FileError::new(1, "", format!("not a CSV file: {e}")))?;
        if !got || rec.iter().all(|f| f.is_empty()) {
            return Err(FileError::new(1, "", "the file is empty: a CSV needs a header line"));
        }
        let mut headers = Vec::with_capacity(rec.len());
        for (i, raw) in rec.iter().enumerate() {
            let raw = if i == 0 {
                raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
            } else {
                raw
            };
            let text = decode_field(raw, enc, 1, "header")?;
            headers.push(text.trim().trim_matches('\u{feff}').to_string());
        }
        let line_shift = u64::from(rdr.position().line() == 1);
        let columns: Vec<Column> = headers.iter().map(|h| column_of(h)).collect();
        if !columns.iter().any(|c| !matches!(c, Column::Unknown | Column::Extra)) {
            let shown: Vec<&str> = headers.iter().take(5).map(String::as_str).collect();
            return Err(FileError::new(
                1,
                "",
                format!(
                    "not a card CSV: no known column in the header ({}); expected columns such as 氏名, 会社名, Email(1) or full_name, company, email",
                    shown.join(", ")
                ),
            ));
        }
        let unknown = || {
            headers
                .iter()
                .zip(&columns)
                .filter(|(h, c)| **c == Column::Unknown && !h.is_empty())
        };
        let warning_count = unknown().count() as u64;
        let warnings = unknown()
            .take(super::MAX_LISTED_ERRORS)
            .map(|(h, _)| {
                LineError::new(
                    1,
                    h.clone(),
                    "unknown column: its values are kept with each card (extra) and exported back",
                )
            })
            .collect();
        Ok(Self {
            rdr,
            enc,
            columns,
            headers,
            warnings,
            warning_count,
            record: csv::ByteRecord::new(),
            line_shift,
        })
    }

    /// The header a card field came from, for error messages (`email` → `Email(1)`).
    pub fn column_name(&self, field: &str) -> String {
        self.columns
            .iter()
            .position(|c| field_of(*c) == field)
            .map(|i| self.headers[i].clone())
            .unwrap_or_else(|| field.to_string())
    }

    /// The reader the rows come from.
    pub fn input(&self) -> &R {
        &self.rdr.get_ref().inner
    }

    /// Bytes consumed so far (for progress).
    pub fn byte_offset(&self) -> u64 {
        self.rdr.position().byte()
    }

    /// The next card: None at the end; Err for a problem with the whole file; Ok(Err) for a
    /// bad row.
    #[allow(clippy::type_complexity)]
    pub fn next_card(&mut self) -> Option<Result<Result<RawCard, LineError>, FileError>> {
        loop {
            match self.rdr.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    return Some(Err(FileError::new(line, "", format!("not a readable CSV: {e}"))));
                }
                Ok(true) => {}
            }
            if self.record.iter().all(|f| f.iter().all(|b| b.is_ascii_whitespace())) {
                continue; // blank lines are skipped
            }
            let line = self.record.position().map(|p| p.line()).unwrap_or(0) + self.line_shift;
            return Some(self.card(line));
        }
    }

    fn card(&self, line: u64) -> Result<Result<RawCard, LineError>, FileError> {
        let rec = &self.record;
        if rec.len() != self.columns.len() {
            return Ok(Err(LineError::new(
                line,
                "",
                format!(
                    "the row has {} fields but the header has {} (a missing or extra comma, or a cut-off file?)",
                    rec.len(),
                    self.columns.len()
                ),
            )));
        }
        let mut c = RawCard {
            line,
            ..Default::default()
        };
        let (mut family, mut given, mut r_family, mut r_given) =
            (String::new(), String::new(), String::new(), String::new());
        for (i, raw) in rec.iter().enumerate() {
            if raw.is_empty() {
                continue;
            }
            let col = self.columns[i];
            let mut value = decode_field(raw, self.enc, line, &self.headers[i])?;
            if let Some(rest) = value.strip_prefix('\'').filter(|r| r.starts_with(FORMULA_STARTS)) {
                // What `CsvOut` guarded on export comes back as it was.
                value = std::borrow::Cow::Owned(rest.to_string());
            }
            if value.contains('\r') {
                // Line breaks inside a quoted field are kept as LF, whatever the file used.
                value = std::borrow::Cow::Owned(value.replace("\r\n", "\n").replace('\r', "\n"));
            }
            let set = |slot: &mut String| {
                if slot.is_empty() {
                    *slot = value.to_string();
                }
            };
            use Column::*;
            match col {
                FullName => set(&mut c.fields.full_name),
                FamilyName => set(&mut family),
                GivenName => set(&mut given),
                NameReading => set(&mut c.fields.name_reading),
                ReadingFamily => set(&mut r_family),
                ReadingGiven => set(&mut r_given),
                Company => set(&mut c.fields.company),
                Department => set(&mut c.fields.department),
                Title => set(&mut c.fields.title),
                Email => set(&mut c.fields.email),
                Phone => set(&mut c.fields.phone),
                Mobile => set(&mut c.fields.mobile),
                Fax => set(&mut c.fields.fax),
                PostalCode => set(&mut c.fields.postal_code),
                Address => set(&mut c.fields.address),
                Url => set(&mut c.fields.url),
                ExchangedOn => set(&mut c.exchanged_on),
                Owner => set(&mut c.owner),
                Tags => c.tags.extend(value.split(TAG_SEPARATORS).map(|t| t.trim().to_string())),
                Extra => match serde_json::from_str::<serde_json::Value>(&value) {
                    Ok(serde_json::Value::Object(m)) => {
                        for (k, v) in m {
                            c.extra.insert(k, v);
                        }
                    }
                    _ => {
                        return Ok(Err(LineError::new(
                            line,
                            self.headers[i].clone(),
                            "not a JSON object (the extra column holds what meishi exported there)",
                        )));
                    }
                },
                Unknown => {
                    if self.headers[i].is_empty() || value.trim().is_empty() {
                        continue;
                    }
                    // Kept as it is (in `extra`) and exported back: no control characters,
                    // like the card's own fields.
                    if let Err(e) = crate::domain::no_control(&self.headers[i], &value) {
                        return Ok(Err(LineError::new(line, self.headers[i].clone(), e.message)));
                    }
                    let csv = c
                        .extra
                        .entry("csv")
                        .or_insert_with(|| serde_json::Value::Object(Default::default()));
                    if let Some(m) = csv.as_object_mut() {
                        m.insert(self.headers[i].clone(), serde_json::Value::String(value.into_owned()));
                    }
                }
            }
        }
        if c.fields.full_name.trim().is_empty() {
            c.fields.full_name = join_name(&family, &given);
        }
        if c.fields.name_reading.trim().is_empty() {
            c.fields.name_reading = join_name(&r_family, &r_given);
        }
        Ok(Ok(c))
    }
}

fn join_name(family: &str, given: &str) -> String {
    match (family.trim(), given.trim()) {
        ("", g) => g.to_string(),
        (f, "") => f.to_string(),
        (f, g) => format!("{f} {g}"),
    }
}

fn decode_field<'a>(
    raw: &'a [u8],
    enc: TextEncoding,
    line: u64,
    column: &str,
) -> Result<std::borrow::Cow<'a, str>, FileError> {
    if raw.is_ascii() {
        return Ok(std::borrow::Cow::Borrowed(std::str::from_utf8(raw).unwrap_or_default()));
    }
    let wrong = |msg: &str| FileError::new(line, "encoding", format!("column {column}: {msg}"));
    match enc {
        TextEncoding::ShiftJis => {
            if is_utf8_japanese(raw) {
                return Err(wrong(
                    "the text is UTF-8, not Shift_JIS: import it with encoding=utf-8 (or auto)",
                ));
            }
            decode(raw, enc).ok_or_else(|| wrong("not valid Shift_JIS: is the file UTF-8? (encoding=utf-8)"))
        }
        _ => decode(raw, TextEncoding::Utf8).ok_or_else(|| {
            wrong("not valid UTF-8: is the file Shift_JIS? import it with encoding=shift_jis (or auto)")
        }),
    }
}

// --- writing ---

/// meishi's own header; `extra` holds, as JSON, what has no column.
pub const EN_HEADER: [&str; 16] = [
    "full_name",
    "name_reading",
    "company",
    "department",
    "title",
    "email",
    "phone",
    "mobile",
    "fax",
    "postal_code",
    "address",
    "url",
    "exchanged_on",
    "tags",
    "owner",
    "extra",
];

/// The Japanese header, as Japanese card services name the same columns.
pub const JA_HEADER: [&str; 16] = [
    "氏名",
    "氏名（カナ）",
    "会社名",
    "部署名",
    "役職",
    "Email(1)",
    "TEL-1(1)",
    "携帯電話(1)",
    "FAX(1)",
    "郵便番号(1)",
    "住所(1)［全て］",
    "URL(1)",
    "名刺交換日",
    "タグ",
    "名刺所有者ユーザID",
    "extra",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeaderLang {
    #[default]
    En,
    Ja,
}

/// A CSV writer into a reusable buffer: write rows, take the bytes, repeat.
/// What a spreadsheet reads as the start of a formula in a cell (CSV injection).
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell as written with the formula guard: `'` before a formula's first character, so a
/// spreadsheet shows the text instead of running it (OWASP's advice). meishi's own import
/// takes the `'` off again.
fn guarded(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

pub struct CsvOut {
    w: csv::Writer<Vec<u8>>,
    lang: HeaderLang,
    guard: bool,
}

impl CsvOut {
    /// `guard`: write cells that begin like a formula with a leading `'` (`guarded`).
    pub fn new(lang: HeaderLang, guard: bool) -> Self {
        Self {
            w: writer(),
            lang,
            guard,
        }
    }

    pub fn header(&mut self) {
        let h: &[&str] = match self.lang {
            HeaderLang::En => &EN_HEADER,
            HeaderLang::Ja => &JA_HEADER,
        };
        let _ = self.w.write_record(h);
    }

    pub fn row(&mut self, r: &ExportRow) {
        let f = &r.fields;
        let date = match (f.exchanged_on, self.lang) {
            (None, _) => String::new(),
            // Written by hand for four-digit years: chrono's `format` parses its pattern for
            // every card.
            (Some(d), HeaderLang::En) if (0..=9999).contains(&d.year()) => {
                format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
            }
            (Some(d), HeaderLang::Ja) if (0..=9999).contains(&d.year()) => {
                format!("{:04}/{:02}/{:02}", d.year(), d.month(), d.day())
            }
            (Some(d), HeaderLang::En) => d.format("%Y-%m-%d").to_string(),
            (Some(d), HeaderLang::Ja) => d.format("%Y/%m/%d").to_string(),
        };
        let tags = r.tags.join(";");
        let cells = [
            f.full_name.as_str(),
            &f.name_reading,
            &f.company,
            &f.department,
            &f.title,
            &f.email,
            &f.phone,
            &f.mobile,
            &f.fax,
            &f.postal_code,
            &f.address,
            &f.url,
            &date,
            &tags,
            &r.owner,
            r.extra.as_deref().unwrap_or(""),
        ];
        if self.guard && cells.iter().any(|c| c.starts_with(FORMULA_STARTS)) {
            let _ = self
                .w
                .write_record(cells.iter().map(|c| guarded(c).into_owned().into_bytes()));
        } else {
            let _ = self.w.write_record(cells);
        }
    }

    /// The bytes written since the last call (UTF-8).
    pub fn take(&mut self) -> Vec<u8> {
        let w = std::mem::replace(&mut self.w, writer());
        w.into_inner().unwrap_or_default()
    }
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(128 * 1024))
}

/// For tests and the benchmark: the fields of a CSV row as meishi's header orders them.
pub fn en_row(f: &CardFields, tags: &str, owner: &str) -> [String; 16] {
    [
        f.full_name.clone(),
        f.name_reading.clone(),
        f.company.clone(),
        f.department.clone(),
        f.title.clone(),
        f.email.clone(),
        f.phone.clone(),
        f.mobile.clone(),
        f.fax.clone(),
        f.postal_code.clone(),
        f.address.clone(),
        f.url.clone(),
        f.exchanged_on.map(|d| d.to_string()).unwrap_or_default(),
        tags.to_string(),
        owner.to_string(),
        String::new(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{check, to_shift_jis};

    fn all(input: &[u8], enc: TextEncoding) -> (Vec<RawCard>, Vec<LineError>, Vec<LineError>) {
        let mut r = CsvCards::new(input, enc).unwrap();
        let (mut ok, mut bad) = (vec![], vec![]);
        while let Some(x) = r.next_card() {
            match x.unwrap() {
                Ok(c) => ok.push(c),
                Err(e) => bad.push(e),
            }
        }
        (ok, bad, r.warnings)
    }

    #[test]
    fn sansan_header_full_and_half_width() {
        let text = "\u{feff}会社名,部署名,役職,氏名[姓],氏名[名],氏名（カナ）,郵便番号(1),住所(1)［全て］,TEL-1(1),携帯電話(1),FAX(1),e-mail(1),名刺交換日,タグ,名刺所有者ユーザID,会社名（英語）\r\n\
株式会社サンプル,営業部,課長,髙橋,一郎,タカハシ イチロウ,100-0005,\"東京都千代田区丸の内1-1-1\r\nサンプルビル①\",03-1234-5678,090-1111-2222,03-1234-5679,ichiro@sample.co.jp,2026/4/1,展示会;重要,sato@acme.jp,Sample Inc.\r\n";
        let (ok, bad, warn) = all(text.as_bytes(), TextEncoding::Utf8);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(warn.len(), 1);
        assert_eq!(warn[0].field, "会社名（英語）");
        let c = &ok[0];
        assert_eq!(c.line, 2);
        assert_eq!(c.fields.full_name, "髙橋 一郎");
        assert_eq!(c.fields.address, "東京都千代田区丸の内1-1-1\nサンプルビル①");
        assert_eq!(c.tags, vec!["展示会", "重要"]);
        assert_eq!(c.owner, "sato@acme.jp");
        assert_eq!(c.extra["csv"]["会社名（英語）"], "Sample Inc.");

        let mut sjis = Vec::new();
        to_shift_jis(text.trim_start_matches('\u{feff}'), &mut sjis);
        let (ok2, _, _) = all(&sjis, TextEncoding::ShiftJis);
        assert_eq!(ok2[0].fields, c.fields);
        // UTF-8 read as Shift_JIS, and Shift_JIS read as UTF-8: a file error naming the line.
        let mut r = CsvCards::new(text.as_bytes(), TextEncoding::ShiftJis);
        let e = match &mut r {
            Err(e) => e.clone(),
            Ok(r) => r.next_card().unwrap().unwrap_err(),
        };
        assert_eq!(e.0.field, "encoding");
        let e = CsvCards::new(&sjis[..], TextEncoding::Utf8).err().unwrap();
        assert_eq!((e.0.line, e.0.field.as_str()), (1, "encoding"));
    }

    #[test]
    fn bad_rows_name_line_and_column() {
        let text = "氏名,会社名,Email(1),名刺交換日\n田中,,tanaka@,\n,,,\n,,x@y.jp,2026-01-01\n佐藤,A社,,2026-02-30\n鈴木,B社\n";
        let mut r = CsvCards::new(text.as_bytes(), TextEncoding::Utf8).unwrap();
        let mut errs = vec![];
        while let Some(x) = r.next_card() {
            match x.unwrap() {
                Ok(c) => {
                    if let Err(e) = check(c, |f| r.column_name(f)) {
                        errs.push(e)
                    }
                }
                Err(e) => errs.push(e),
            }
        }
        let got: Vec<(u64, &str)> = errs.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(got, vec![(2, "Email(1)"), (4, "氏名"), (5, "名刺交換日"), (6, "")]);
    }

    #[test]
    fn not_a_card_csv() {
        assert!(CsvCards::new(&b""[..], TextEncoding::Utf8).is_err());
        assert!(CsvCards::new(&b"foo,bar\n1,2\n"[..], TextEncoding::Utf8).is_err());
        assert_eq!(column_of("氏名(カナ)"), Column::NameReading);
        assert_eq!(column_of("ＴＥＬ－１（１）"), column_of("TEL-1(1)"));
    }

    #[test]
    fn writes_both_headers() {
        let mut out = CsvOut::new(HeaderLang::Ja, true);
        out.header();
        out.row(&ExportRow {
            fields: CardFields {
                full_name: "田中, 一郎".into(),
                exchanged_on: chrono::NaiveDate::from_ymd_opt(2026, 4, 1),
                ..Default::default()
            },
            tags: vec!["a".into(), "b".into()],
            owner: "o@x.jp".into(),
            extra: None,
        });
        let s = String::from_utf8(out.take()).unwrap();
        assert!(s.starts_with("氏名,氏名（カナ）,会社名"));
        assert!(
            s.contains("\"田中, 一郎\",,,,,,,,,,,,2026/04/01,a;b,o@x.jp,\r\n"),
            "{s}"
        );
    }
}
