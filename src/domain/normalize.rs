//! Japanese-aware matching keys (DESIGN.md, "News"): NFKC width folding, spaces ignored,
//! company-form suffixes (株式会社, (株), ㈱ …) treated as the same; for searching and sorting
//! also hiragana = katakana and a few variant kanji (髙=高, 﨑=崎, 齋=斎 …).

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Legal-form markers that do not distinguish one company from another. Checked after NFKC,
/// so `㈱` and `（株）` arrive here as `(株)`.
const COMPANY_FORMS: &[&str] = &[
    "株式会社",
    "有限会社",
    "合同会社",
    "合名会社",
    "合資会社",
    "(株)",
    "(有)",
    "(同)",
    "(名)",
    "(資)",
];

/// NFKC, lower-case ASCII, no whitespace at all.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_folded(s, &mut out, |c| c);
    out
}

/// Appends `s` folded (NFKC, lower case, no whitespace), each character passed through `map`.
/// Text that is already NFKC (plain ASCII, and most Japanese: the check is a table look-up per
/// character) skips the normalisation itself: the keys are made for every imported card.
fn push_folded(s: &str, out: &mut String, map: impl Fn(char) -> char) {
    if s.chars().all(plain) {
        // Already NFKC, and caseless but for ASCII: no normalisation, no case tables.
        for c in s.chars() {
            if c.is_ascii() {
                if !c.is_ascii_whitespace() {
                    out.push(map(c.to_ascii_lowercase()));
                }
            } else {
                out.push(map(c));
            }
        }
        return;
    }
    let mut push = |c: char| {
        if c.is_ascii() {
            if !c.is_ascii_whitespace() {
                out.push(map(c.to_ascii_lowercase()));
            }
        } else if !c.is_whitespace() {
            for l in c.to_lowercase() {
                out.push(map(l));
            }
        }
    };
    if is_nfkc_quick(s.chars()) == IsNormalized::Yes {
        s.chars().for_each(&mut push);
    } else {
        s.nfkc().for_each(&mut push);
    }
}

/// A character NFKC leaves as it is and that has no case other than ASCII's: ASCII, hiragana,
/// katakana (not the half-width forms), the prolonged sound mark and the CJK unified
/// ideographs: nearly every character of a Japanese card.
fn plain(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{7F}' | '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}' | 'ー' | '\u{4E00}'..='\u{9FFF}')
}

/// The key two spellings of one person's name share: `山田　賢治` = `山田 賢治` = `山田賢治`.
pub fn person_name(name: &str) -> String {
    fold(name)
}

/// The key two spellings of one company share:
/// `株式会社サンプル` = `(株)サンプル` = `㈱サンプル` = `ｻﾝﾌﾟﾙ株式会社`.
pub fn company(name: &str) -> String {
    let mut key = fold(name);
    for form in COMPANY_FORMS {
        key = key.replace(form, "");
    }
    key
}

/// Variant kanji that names are written with, folded to their common form for matching only.
const VARIANT_KANJI: &[(char, char)] = &[
    ('髙', '高'),
    ('﨑', '崎'),
    ('嵜', '崎'),
    ('齋', '斎'),
    ('齊', '斉'),
    ('邊', '辺'),
    ('邉', '辺'),
    ('濵', '浜'),
    ('濱', '浜'),
    ('澤', '沢'),
    ('廣', '広'),
];

/// Hiragana as katakana (ぁ–ゖ → ァ–ヶ, ゝゞ → ヽヾ); anything else as it is.
fn katakana(c: char) -> char {
    match c {
        '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        c if (c as u32) < 0x4E00 => c,
        _ => VARIANT_KANJI.iter().find(|(v, _)| *v == c).map_or(c, |(_, to)| *to),
    }
}

/// `fold` with hiragana as katakana and variant kanji folded: `やまもと` = `ヤマモト` = `ﾔﾏﾓﾄ`.
pub fn search(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_folded(s, &mut out, katakana);
    out
}

/// `company` with hiragana as katakana and variant kanji folded.
pub fn search_company(name: &str) -> String {
    company(name).chars().map(katakana).collect()
}

/// A one-character token that `card_search_tokens` puts between two fields' bigrams where the
/// last bigram of one field ends with the character the next field's first bigram begins with
/// (`…yz` then `zb…`): a phrase of bigrams (`yz zb`) could otherwise run from one field into
/// the next. A query's phrase is made of two-character tokens only, so it never contains it.
pub const FIELD_BARRIER: &str = "|";

/// What the keyword index holds for a card (store::search): its name, reading, company,
/// department, title and email folded by `search`, its phone and mobile as digits only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchTokens {
    /// Every field's character bigrams, in order, separated by spaces (`ヤマ マモ モト …`),
    /// with `FIELD_BARRIER` where a phrase could otherwise cross fields. Queries of two
    /// characters or more are a phrase of their own bigrams.
    pub grams: String,
    /// The distinct characters of all fields, separated by spaces: one-character queries.
    pub chars: String,
    /// Every run of `DIGIT_GRAM` digits or more in any field, as its overlapping runs of
    /// `DIGIT_GRAM` digits (`0312345678` → `0312 3123 1234 …`), `FIELD_BARRIER` between runs.
    /// Ten digits make only a hundred bigrams, each in most cards, so a phrase of digit bigrams
    /// alone (a phone number) matched few cards among very many candidates; a keyword's run
    /// of digits is also looked for here, where a four-digit gram is in about one card in a
    /// thousand.
    pub digits: String,
    /// The folded fields themselves, each once, `FIELD_SEPARATOR` between them (PostgreSQL's
    /// index: a keyword is a substring of one field exactly when it is a substring of this,
    /// since no keyword contains the separator).
    pub body: String,
}

/// What separates the fields in `SearchTokens::body`: whitespace, which no folded field nor
/// keyword contains (`search` drops it).
pub const FIELD_SEPARATOR: &str = "\n";

/// The length of the digit grams (`SearchTokens::digits`).
pub const DIGIT_GRAM: usize = 4;

/// The runs of `DIGIT_GRAM` ASCII digits or more in a folded text.
pub fn digit_runs(s: &str) -> Vec<&str> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|r| r.len() >= DIGIT_GRAM)
        .collect()
}

/// A run of digits as its overlapping `DIGIT_GRAM`-digit grams, in order.
pub fn digit_grams(run: &str) -> Vec<&str> {
    (0..=run.len().saturating_sub(DIGIT_GRAM))
        .map(|i| &run[i..i + DIGIT_GRAM])
        .collect()
}

/// The searchable fields of a card, folded, phone and mobile as digits only.
fn search_fields(f: &super::CardFields) -> [String; 8] {
    let digits = |s: &str| search(s).chars().filter(char::is_ascii_digit).collect::<String>();
    [
        search(&f.full_name),
        search(&f.name_reading),
        search(&f.company),
        search(&f.department),
        search(&f.title),
        search(&f.email),
        digits(&f.phone),
        digits(&f.mobile),
    ]
}

/// A card's keyword index tokens (see `SearchTokens`). Pure: the import makes them on its
/// reading side, the store writes them.
pub fn card_search_tokens(f: &super::CardFields) -> SearchTokens {
    let fields = search_fields(f);
    let mut grams = String::with_capacity(fields.iter().map(|s| s.len() * 2 + 2).sum());
    let mut all: Vec<char> = Vec::with_capacity(64);
    let mut last: Option<char> = None;
    let mut digits = String::new();
    let body = fields.join(FIELD_SEPARATOR);
    for field in &fields {
        for run in digit_runs(field) {
            if !digits.is_empty() {
                digits.push_str(FIELD_BARRIER);
                digits.push(' ');
            }
            for g in digit_grams(run) {
                digits.push_str(g);
                digits.push(' ');
            }
        }
        let cs: Vec<char> = field.chars().collect();
        all.extend_from_slice(&cs);
        if cs.len() < 2 {
            continue;
        }
        if last == Some(cs[0]) {
            grams.push_str(FIELD_BARRIER);
            grams.push(' ');
        }
        for w in cs.windows(2) {
            grams.push(w[0]);
            grams.push(w[1]);
            grams.push(' ');
        }
        last = cs.last().copied();
    }
    grams.pop();
    all.sort_unstable();
    all.dedup();
    let mut chars = String::with_capacity(all.len() * 4);
    for c in all {
        if !chars.is_empty() {
            chars.push(' ');
        }
        chars.push(c);
    }
    digits.pop();
    SearchTokens {
        grams,
        chars,
        digits,
        body,
    }
}

/// What a keyword is looked for as, each folded like the index: as typed; without its legal
/// form ((株)サンプル finds 株式会社サンプル); as digits only when it looks like a phone
/// number (03-1234 finds 0312345678). A card matches when any of them is a substring of one
/// of its fields. When one of them is a single character, only the single characters are
/// kept: every card that contains a longer one contains that character too.
pub fn search_terms(q: &str) -> Vec<String> {
    let typed = search(q);
    let mut terms = vec![typed.clone(), search_company(q)];
    if typed.chars().any(|c| c.is_ascii_digit())
        && typed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '(' | ')' | '+' | '.' | 'ー' | '‐' | '−'))
    {
        terms.push(typed.chars().filter(char::is_ascii_digit).collect());
    }
    terms.retain(|t| !t.is_empty());
    terms.sort();
    terms.dedup();
    if terms.iter().any(|t| t.chars().count() == 1) {
        terms.retain(|t| t.chars().count() == 1);
    }
    terms
}

/// A term's bigrams, in order (`ヤマモト` → `ヤマ`, `マモ`, `モト`); a single character alone.
pub fn term_grams(term: &str) -> Vec<String> {
    let cs: Vec<char> = term.chars().collect();
    if cs.len() < 2 {
        return vec![term.to_string()];
    }
    cs.windows(2).map(|w| w.iter().collect()).collect()
}

/// What cards are sorted by name with (stored as `cards.name_key`): the reading when there
/// is one, else the name, folded by `search` (so hiragana and katakana readings sort together).
pub fn card_name_key(f: &super::CardFields) -> String {
    let reading = search(&f.name_reading);
    if reading.is_empty() {
        search(&f.full_name)
    } else {
        reading
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_folds_width_case_kana_and_variants() {
        assert_eq!(search("ﾔﾏﾀﾞ ＡＢＣ　髙橋"), "ヤマダabc高橋");
    }

    #[test]
    fn hiragana_katakana_and_widths_search_alike() {
        assert_eq!(search("やまもと"), search("ヤマモト"));
        assert_eq!(search("ﾔﾏﾓﾄ"), search("やまもと"));
        assert_eq!(search("ヤマモト ケンジ"), "ヤマモトケンジ");
        assert_eq!(search("ゞ"), "ヾ");
        assert_eq!(search("髙橋"), search("高橋"));
        assert_eq!(search("ＡＢＣ"), "abc");
        assert_eq!(search_company("かぶしきがいしゃ"), "カブシキガイシャ");
        assert_eq!(search_company("(株)さんぷる"), search_company("株式会社サンプル"));
    }

    #[test]
    fn a_cards_tokens() {
        let f = crate::domain::CardFields {
            full_name: "山本 太郎".into(),
            name_reading: "やまもと たろう".into(),
            company: "株式会社サンプル".into(),
            email: "T.Yamamoto@example.jp".into(),
            phone: "03-1234-5678".into(),
            ..Default::default()
        };
        let t = card_search_tokens(&f);
        let grams: Vec<&str> = t.grams.split(' ').collect();
        assert_eq!(&grams[..4], ["山本", "本太", "太郎", "ヤマ"]);
        assert!(grams.contains(&"t."), "{grams:?}");
        assert!(grams.windows(3).any(|w| w == ["03", "31", "12"]), "phone digits only");
        assert!(!t.grams.contains("郎ヤ"), "no bigram across fields");
        assert!(t.chars.split(' ').any(|c| c == "本"));
        assert!(!t.chars.contains("-"), "phone punctuation is not indexed");
        assert_eq!(t.digits, "0312 3123 1234 2345 3456 4567 5678");
        assert_eq!(
            t.body,
            "山本太郎\nヤマモトタロウ\n株式会社サンプル\n\n\nt.yamamoto@example.jp\n0312345678\n"
        );
        let mail = crate::domain::CardFields {
            email: "u12345x678@c0001.jp".into(),
            ..Default::default()
        };
        assert_eq!(card_search_tokens(&mail).digits, "1234 2345 | 0001");
        assert_eq!(digit_runs("サンプル0123-45678"), ["0123", "45678"]);
        assert_eq!(card_name_key(&f), "ヤマモトタロウ");
        let unread = crate::domain::CardFields {
            full_name: "Zed".into(),
            ..Default::default()
        };
        assert_eq!(card_name_key(&unread), "zed");
    }

    #[test]
    fn a_barrier_where_a_phrase_could_cross_fields() {
        // 田中 then 中村: the bigrams 田中 中村 would make the phrase of 田中村.
        let f = crate::domain::CardFields {
            full_name: "田中".into(),
            name_reading: "中村".into(),
            department: "x".into(),
            title: "村上".into(),
            ..Default::default()
        };
        assert_eq!(card_search_tokens(&f).grams, "田中 | 中村 | 村上");
        let g = crate::domain::CardFields {
            full_name: "田中".into(),
            name_reading: "村上".into(),
            ..Default::default()
        };
        assert_eq!(card_search_tokens(&g).grams, "田中 村上");
    }

    #[test]
    fn a_keywords_terms() {
        assert_eq!(search_terms("やまもと"), ["ヤマモト"]);
        assert_eq!(search_terms("(株)サンプル"), ["(株)サンプル", "サンプル"]);
        assert_eq!(search_terms("03-1234"), ["03-1234", "031234"]);
        assert_eq!(search_terms("１２３４-５６７８"), ["1234-5678", "12345678"]);
        assert_eq!(search_terms("髙"), ["高"]);
        assert_eq!(search_terms("3-"), ["3"], "a single character covers the rest");
        assert_eq!(search_terms("%_"), ["%_"]);
        assert!(search_terms("(株)").contains(&"(株)".to_string()));
        assert_eq!(term_grams("ヤマモト"), ["ヤマ", "マモ", "モト"]);
        assert_eq!(term_grams("田"), ["田"]);
    }

    #[test]
    fn company_forms_and_widths_fold_together() {
        let key = company("株式会社サンプル");
        for other in [
            "(株)サンプル",
            "㈱サンプル",
            "ｻﾝﾌﾟﾙ株式会社",
            "（株）サンプル",
            " サンプル 株式会社 ",
        ] {
            assert_eq!(company(other), key, "{other}");
        }
        assert_ne!(company("サンプル商事"), key);
        assert_eq!(company("ＡＢＣ株式会社"), company("abc"));
    }

    #[test]
    fn names_ignore_spaces_and_width() {
        assert_eq!(person_name("山田　賢治"), person_name("山田賢治"));
        assert_eq!(person_name("ﾔﾏﾀﾞ ｹﾝｼﾞ"), person_name("ヤマダケンジ"));
    }
}
