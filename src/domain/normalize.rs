//! Japanese-aware matching keys (DESIGN.md, "News"): NFKC width folding, spaces ignored,
//! company-form suffixes (株式会社, (株), ㈱ …) treated as the same.

use unicode_normalization::UnicodeNormalization;

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
    s.nfkc()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

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
