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

/// Separates a card's fields in its search key. `search` removes whitespace, so a folded
/// keyword never contains it and a match never runs from one field into the next.
pub const FIELD_SEPARATOR: char = '\n';

/// What a keyword is looked for in (stored as `cards.search_key`): the name, its reading, the
/// company, department, title and email, each folded by `search`, one per line.
pub fn card_search_key(f: &super::CardFields) -> String {
    let mut key = String::with_capacity(
        f.full_name.len()
            + f.name_reading.len()
            + f.company.len()
            + f.department.len()
            + f.title.len()
            + f.email.len()
            + 6,
    );
    for (i, field) in [
        &f.full_name,
        &f.name_reading,
        &f.company,
        &f.department,
        &f.title,
        &f.email,
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            key.push(FIELD_SEPARATOR);
        }
        push_folded(field, &mut key, katakana);
    }
    key
}

/// Both keys of a card at once: `card_search_key`, and `card_name_key` taken from its reading
/// or name part instead of folding them a second time.
pub fn card_keys(f: &super::CardFields) -> (String, String) {
    let search = card_search_key(f);
    let mut parts = search.split(FIELD_SEPARATOR);
    let name = parts.next().unwrap_or_default();
    let reading = parts.next().unwrap_or_default();
    let sort = if reading.is_empty() { name } else { reading }.to_string();
    (search, sort)
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
    fn both_keys_at_once_are_the_keys_one_by_one() {
        let f = crate::domain::CardFields {
            full_name: "山田　賢治".into(),
            name_reading: "やまだ けんじ".into(),
            company: "ｻﾝﾌﾟﾙ商事(株)".into(),
            email: "Yamada@Example.jp".into(),
            ..Default::default()
        };
        assert_eq!(card_keys(&f), (card_search_key(&f), card_name_key(&f)));
        let no_reading = crate::domain::CardFields {
            name_reading: String::new(),
            ..f
        };
        assert_eq!(card_keys(&no_reading).1, "山田賢治");
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
    fn a_cards_keys() {
        let f = crate::domain::CardFields {
            full_name: "山本 太郎".into(),
            name_reading: "やまもと たろう".into(),
            company: "株式会社サンプル".into(),
            email: "t.yamamoto@example.jp".into(),
            ..Default::default()
        };
        let key = card_search_key(&f);
        assert!(key.contains(&search("ヤマモト")));
        assert!(key.contains(&search("山本太郎")));
        assert!(!key.contains(&search("郎やま")), "no match across fields");
        assert_eq!(card_name_key(&f), "ヤマモトタロウ");
        let unread = crate::domain::CardFields {
            full_name: "Zed".into(),
            ..Default::default()
        };
        assert_eq!(card_name_key(&unread), "zed");
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
