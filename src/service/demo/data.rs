//! Deterministic sample data for `meishi demo`: a Japanese trading company, its staff and the business cards they received.
//!
//! Everything here is pure: no I/O, no clock. [`cards`] is deterministic for a
//! given seed. Company attributes (domain, address, phone numbers) do not depend
//! on the seed at all, so every card of the same company is consistent.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUser {
    pub email: String,
    pub display_name: String,
    pub admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCard {
    /// Index into [`users()`].
    pub owner: usize,
    /// Family name, ASCII space, given name: "佐藤 健一".
    pub full_name: String,
    /// Katakana reading: "サトウ ケンイチ".
    pub name_reading: String,
    pub company: String,
    pub department: String,
    pub title: String,
    /// ASCII; empty for about 5% of cards.
    pub email: String,
    pub phone: String,
    /// Empty for about 40% of cards.
    pub mobile: String,
    /// Empty for about 50% of cards.
    pub fax: String,
    pub postal_code: String,
    pub address: String,
    pub url: String,
    /// Between 2019-01-01 and 2026-10-31.
    pub exchanged_on: NaiveDate,
    /// Indexes into [`tag_names()`]; 0..=2 per card.
    pub tags: Vec<usize>,
    /// 0..=3 per card, in chronological order.
    pub contacts: Vec<DemoContact>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoContact {
    /// "meeting" | "call" | "mail" | "note"
    pub kind: &'static str,
    pub days_after_exchange: u32,
    pub body: String,
}

/// Index of the user who is leaving (山田 賢治, 退職予定).
pub const LEAVING_USER: usize = 3;

// ---------------------------------------------------------------------------
// Our own company
// ---------------------------------------------------------------------------

const OWN_DOMAIN: &str = "example.co.jp";

/// Members of staff (index 1..): (family, given, family reading, given reading).
/// Index 0, the administrator, is not a person and is added in `users()`.
const MEMBERS: &[(&str, &str, &str, &str)] = &[
    ("佐藤", "美咲", "サトウ", "ミサキ"),
    ("鈴木", "大輔", "スズキ", "ダイスケ"),
    ("山田", "賢治", "ヤマダ", "ケンジ"), // index 3: LEAVING_USER
    ("高橋", "恵子", "タカハシ", "ケイコ"),
    ("伊藤", "翔太", "イトウ", "ショウタ"),
    ("渡辺", "直美", "ワタナベ", "ナオミ"),
    ("中村", "拓也", "ナカムラ", "タクヤ"),
    ("小林", "由美", "コバヤシ", "ユミ"),
];

/// Relative share of the cards each user holds (index 0 = admin holds none).
const OWNER_WEIGHTS: [u32; 9] = [0, 14, 12, 15, 10, 13, 11, 16, 9];

/// Tags: (name, creator as index into users()).
const TAGS: &[(&str, usize)] = &[
    ("重要顧客", 2),
    ("展示会2025", 3),
    ("見込み客", 5),
    ("既存取引先", 1),
    ("要フォロー", 3),
    ("代理店", 7),
    ("年賀状送付先", 4),
];
const TAG_TRADE_SHOW: usize = 1;
const TAG_PROSPECT: usize = 2;
const TAG_EXISTING: usize = 3;

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

/// Common family names with their katakana readings, roughly by frequency.
const FAMILY_NAMES: &[(&str, &str)] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("阿部", "アベ"),
    ("石川", "イシカワ"),
    ("山下", "ヤマシタ"),
    ("中島", "ナカジマ"),
    ("石井", "イシイ"),
    ("小川", "オガワ"),
    ("前田", "マエダ"),
    ("岡田", "オカダ"),
    ("長谷川", "ハセガワ"),
    ("藤田", "フジタ"),
    ("後藤", "ゴトウ"),
    ("近藤", "コンドウ"),
    ("村上", "ムラカミ"),
    ("遠藤", "エンドウ"),
    ("青木", "アオキ"),
    ("坂本", "サカモト"),
    ("福田", "フクダ"),
    ("太田", "オオタ"),
    ("西村", "ニシムラ"),
    ("藤井", "フジイ"),
    ("金子", "カネコ"),
    ("岡本", "オカモト"),
    ("藤原", "フジワラ"),
    ("中野", "ナカノ"),
    ("三浦", "ミウラ"),
    ("原田", "ハラダ"),
    ("中川", "ナカガワ"),
    ("松田", "マツダ"),
    ("竹内", "タケウチ"),
    ("小野", "オノ"),
    ("田村", "タムラ"),
    ("中山", "ナカヤマ"),
    ("和田", "ワダ"),
    ("石田", "イシダ"),
    ("森田", "モリタ"),
    ("上田", "ウエダ"),
    ("原", "ハラ"),
    ("柴田", "シバタ"),
    ("酒井", "サカイ"),
    ("工藤", "クドウ"),
    ("横山", "ヨコヤマ"),
    ("宮崎", "ミヤザキ"),
    ("宮本", "ミヤモト"),
    ("内田", "ウチダ"),
    ("高木", "タカギ"),
    ("安藤", "アンドウ"),
    ("谷口", "タニグチ"),
    ("大野", "オオノ"),
    ("丸山", "マルヤマ"),
    ("今井", "イマイ"),
    ("河野", "コウノ"),
    ("藤本", "フジモト"),
    ("村田", "ムラタ"),
    ("武田", "タケダ"),
    ("上野", "ウエノ"),
    ("杉山", "スギヤマ"),
    ("増田", "マスダ"),
    ("小山", "コヤマ"),
    ("大塚", "オオツカ"),
    ("平野", "ヒラノ"),
    ("菅原", "スガワラ"),
    ("服部", "ハットリ"),
    ("千葉", "チバ"),
    ("久保", "クボ"),
    ("松井", "マツイ"),
    ("岩崎", "イワサキ"),
    ("野口", "ノグチ"),
    ("菊地", "キクチ"),
    ("木下", "キノシタ"),
    ("野村", "ノムラ"),
    ("新井", "アライ"),
    ("桜井", "サクライ"),
    ("市川", "イチカワ"),
    ("大西", "オオニシ"),
    ("荒木", "アラキ"),
    ("北村", "キタムラ"),
    ("浅野", "アサノ"),
    ("松尾", "マツオ"),
];

const MALE_GIVEN_NAMES: &[(&str, &str)] = &[
    ("健一", "ケンイチ"),
    ("浩", "ヒロシ"),
    ("誠", "マコト"),
    ("大輔", "ダイスケ"),
    ("翔太", "ショウタ"),
    ("拓也", "タクヤ"),
    ("直樹", "ナオキ"),
    ("和也", "カズヤ"),
    ("達也", "タツヤ"),
    ("健太", "ケンタ"),
    ("剛", "ツヨシ"),
    ("修", "オサム"),
    ("隆", "タカシ"),
    ("聡", "サトシ"),
    ("学", "マナブ"),
    ("哲也", "テツヤ"),
    ("雄一", "ユウイチ"),
    ("亮", "リョウ"),
    ("健二", "ケンジ"),
    ("浩二", "コウジ"),
    ("秀樹", "ヒデキ"),
    ("一郎", "イチロウ"),
    ("慎一", "シンイチ"),
    ("洋平", "ヨウヘイ"),
    ("大輝", "ダイキ"),
    ("悠斗", "ユウト"),
    ("勇気", "ユウキ"),
    ("康弘", "ヤスヒロ"),
    ("正人", "マサト"),
    ("智也", "トモヤ"),
    ("淳", "ジュン"),
    ("俊介", "シュンスケ"),
    ("博之", "ヒロユキ"),
    ("裕介", "ユウスケ"),
    ("圭介", "ケイスケ"),
    ("純一", "ジュンイチ"),
    ("徹", "トオル"),
    ("直人", "ナオト"),
    ("隆之", "タカユキ"),
    ("伸也", "シンヤ"),
    ("光一", "コウイチ"),
    ("真司", "シンジ"),
    ("雅之", "マサユキ"),
    ("清", "キヨシ"),
    ("勝", "マサル"),
    ("茂", "シゲル"),
];

const FEMALE_GIVEN_NAMES: &[(&str, &str)] = &[
    ("陽子", "ヨウコ"),
    ("恵子", "ケイコ"),
    ("裕子", "ユウコ"),
    ("美穂", "ミホ"),
    ("由美", "ユミ"),
    ("真由美", "マユミ"),
    ("直美", "ナオミ"),
    ("明美", "アケミ"),
    ("恵", "メグミ"),
    ("香織", "カオリ"),
    ("愛", "アイ"),
    ("彩", "アヤ"),
    ("美咲", "ミサキ"),
    ("麻衣", "マイ"),
    ("智子", "トモコ"),
    ("久美子", "クミコ"),
    ("千尋", "チヒロ"),
    ("沙織", "サオリ"),
    ("奈々", "ナナ"),
    ("由香", "ユカ"),
    ("理恵", "リエ"),
    ("綾香", "アヤカ"),
    ("陽菜", "ヒナ"),
    ("結衣", "ユイ"),
    ("美紀", "ミキ"),
    ("亜希子", "アキコ"),
    ("幸子", "サチコ"),
    ("京子", "キョウコ"),
    ("早苗", "サナエ"),
    ("晴美", "ハルミ"),
    ("麻美", "アサミ"),
    ("加奈子", "カナコ"),
    ("純子", "ジュンコ"),
    ("美香", "ミカ"),
    ("里美", "サトミ"),
    ("真理子", "マリコ"),
    ("紀子", "ノリコ"),
    ("由紀", "ユキ"),
    ("遥", "ハルカ"),
    ("瞳", "ヒトミ"),
];

// ---------------------------------------------------------------------------
// Places and companies
// ---------------------------------------------------------------------------

/// Business districts: (address prefix, postal code, telephone area code).
const LOCATIONS: &[(&str, &str, &str)] = &[
    ("東京都千代田区丸の内", "100-0005", "03"),            // 0
    ("東京都千代田区大手町", "100-0004", "03"),            // 1
    ("東京都中央区日本橋本町", "103-0023", "03"),          // 2
    ("東京都港区虎ノ門", "105-0001", "03"),                // 3
    ("東京都港区芝浦", "108-0023", "03"),                  // 4
    ("東京都新宿区西新宿", "160-0023", "03"),              // 5
    ("東京都渋谷区渋谷", "150-0002", "03"),                // 6
    ("東京都品川区大崎", "141-0032", "03"),                // 7
    ("東京都江東区豊洲", "135-0061", "03"),                // 8
    ("東京都大田区蒲田", "144-0052", "03"),                // 9
    ("神奈川県横浜市西区みなとみらい", "220-0012", "045"), // 10
    ("神奈川県横浜市港北区新横浜", "222-0033", "045"),     // 11
    ("神奈川県川崎市幸区堀川町", "212-0013", "044"),       // 12
    ("埼玉県さいたま市大宮区桜木町", "330-0854", "048"),   // 13
    ("千葉県千葉市美浜区中瀬", "261-0023", "043"),         // 14
    ("大阪府大阪市北区梅田", "530-0001", "06"),            // 15
    ("大阪府大阪市中央区本町", "541-0053", "06"),          // 16
    ("大阪府大阪市淀川区西中島", "532-0011", "06"),        // 17
    ("愛知県名古屋市中村区名駅", "450-0002", "052"),       // 18
    ("愛知県名古屋市中区栄", "460-0008", "052"),           // 19
    ("福岡県福岡市博多区博多駅前", "812-0011", "092"),     // 20
    ("福岡県福岡市中央区天神", "810-0001", "092"),         // 21
    ("北海道札幌市中央区北1条西", "060-0001", "011"),      // 22
    ("宮城県仙台市青葉区中央", "980-0021", "022"),         // 23
    ("京都府京都市下京区東塩小路町", "600-8216", "075"),   // 24
    ("兵庫県神戸市中央区三宮町", "650-0021", "078"),       // 25
    ("広島県広島市中区紙屋町", "730-0031", "082"),         // 26
    ("静岡県浜松市中央区板屋町", "430-0928", "053"),       // 27
    ("新潟県新潟市中央区万代", "950-0088", "025"),         // 28
    ("石川県金沢市広岡", "920-0031", "076"),               // 29
];

/// Client companies: (name, domain, location index, street number, building).
const COMPANIES: &[(&str, &str, usize, &str, &str)] = &[
    ("株式会社東洋精機", "toyo-seiki.co.jp", 9, "5-12-3", ""),
    ("三和物産株式会社", "sanwa-bussan.co.jp", 2, "2-3-1", "三和日本橋ビル7F"),
    ("(株)北斗システム", "hokuto-sys.co.jp", 22, "4-1-2", "北一条ビル3F"),
    ("ｻﾝﾌﾟﾙ工業株式会社", "sample-kogyo.co.jp", 12, "72-5", ""),
    (
        "株式会社丸菱商事",
        "marubishi-shoji.co.jp",
        1,
        "1-6-1",
        "大手町センタービル14F",
    ),
    ("㈱日進テクノ", "nisshin-techno.co.jp", 17, "5-3-14", "新大阪第一ビル6F"),
    (
        "大和化学工業株式会社",
        "yamato-chem.co.jp",
        16,
        "3-5-7",
        "本町ガーデンビル4F",
    ),
    (
        "株式会社さくらフーズ",
        "sakura-foods.co.jp",
        20,
        "2-1-1",
        "博多駅前スクエア8F",
    ),
    (
        "中部電機株式会社",
        "chubu-denki.co.jp",
        18,
        "3-28-12",
        "名駅ビルディング9F",
    ),
    (
        "株式会社グリーンリーフ",
        "greenleaf.jp",
        6,
        "2-21-1",
        "渋谷スクエアビル11F",
    ),
    ("有限会社高橋製作所", "takahashi-ss.co.jp", 9, "3-18-9", ""),
    (
        "株式会社みなと物流",
        "minato-logi.co.jp",
        10,
        "2-3-5",
        "みなとみらいビジネスセンター10F",
    ),
    (
        "日本ユニテック株式会社",
        "nihon-unitec.co.jp",
        5,
        "6-14-1",
        "新宿グリーンタワー20F",
    ),
    ("株式会社アサヒ建設", "asahi-kensetsu.co.jp", 13, "1-7-5", ""),
    ("(株)光和印刷", "kowa-print.co.jp", 2, "4-8-2", ""),
    (
        "株式会社ネクストリンク",
        "nextlink.co.jp",
        7,
        "1-11-2",
        "大崎ニューシティ5F",
    ),
    (
        "東邦フードサービス株式会社",
        "toho-fs.co.jp",
        8,
        "3-2-20",
        "豊洲フロント6F",
    ),
    (
        "株式会社九州メディカル",
        "kyushu-medical.co.jp",
        21,
        "1-4-2",
        "天神MKビル5F",
    ),
    ("北海道ファーム株式会社", "hokkaido-farm.co.jp", 22, "7-3-1", ""),
    (
        "株式会社杜の都ソフト",
        "morinomiyako-soft.co.jp",
        23,
        "2-2-10",
        "仙台中央ビル8F",
    ),
    ("京栄織物株式会社", "kyoei-orimono.co.jp", 24, "721-1", ""),
    (
        "神戸マリン商事株式会社",
        "kobe-marine.co.jp",
        25,
        "1-2-1",
        "三宮センタービル7F",
    ),
    ("株式会社広島ロジテック", "hiroshima-logitec.co.jp", 26, "2-2-25", ""),
    ("浜松精工株式会社", "hamamatsu-seiko.co.jp", 27, "111-2", ""),
    ("新潟米穀株式会社", "niigata-beikoku.co.jp", 28, "5-1-7", ""),
    (
        "株式会社加賀テキスタイル",
        "kaga-textile.co.jp",
        29,
        "1-5-3",
        "金沢駅西ビル4F",
    ),
    (
        "㈱サンライズ商会",
        "sunrise-shokai.co.jp",
        15,
        "1-11-4",
        "梅田第二ビル12F",
    ),
    ("ｱｵﾊﾞ電子株式会社", "aoba-denshi.co.jp", 23, "3-6-1", ""),
    ("株式会社ﾐﾗｲﾃｯｸ", "miraitec.co.jp", 11, "2-5-2", "新横浜スクエア3F"),
    ("富士見総合設備株式会社", "fujimi-setsubi.co.jp", 14, "1-9-1", ""),
    (
        "株式会社セントラル保険サービス",
        "central-hoken.co.jp",
        19,
        "3-15-6",
        "栄第一生命ビル10F",
    ),
    (
        "株式会社イースト・コンサルティング",
        "east-consulting.co.jp",
        3,
        "4-1-28",
        "虎ノ門タワーズオフィス16F",
    ),
    (
        "太平洋海運株式会社",
        "taiheiyo-kaiun.co.jp",
        4,
        "3-4-1",
        "芝浦ベイビル9F",
    ),
    ("(株)中央エンジニアリング", "chuo-eng.co.jp", 2, "3-3-6", ""),
    ("株式会社明光電設", "meiko-densetsu.co.jp", 12, "66-2", ""),
    ("大阪産業機械株式会社", "osaka-sangyo.co.jp", 16, "2-4-10", ""),
    (
        "株式会社ヤマト・データ",
        "yamato-data.co.jp",
        5,
        "1-25-1",
        "新宿センタービル32F",
    ),
    (
        "株式会社ブルーオーシャン",
        "blueocean.jp",
        6,
        "3-12-18",
        "渋谷南口ビル4F",
    ),
    ("関東化成株式会社", "kanto-kasei.co.jp", 13, "2-3-3", ""),
    ("株式会社名古屋ツール", "nagoya-tool.co.jp", 18, "4-6-23", ""),
    ("有限会社森田商店", "morita-shoten.co.jp", 20, "4-2-5", ""),
    (
        "株式会社エムケイ物産",
        "mk-bussan.co.jp",
        17,
        "3-19-15",
        "西中島NKビル7F",
    ),
    ("第一製薬工業株式会社", "daiichi-pi.co.jp", 3, "2-7-2", ""),
    ("株式会社トライアングル", "triangle-inc.co.jp", 6, "1-12-1", ""),
    (
        "株式会社若葉ホーム",
        "wakaba-home.co.jp",
        14,
        "2-6-1",
        "幕張テクノビル3F",
    ),
    ("日東パッケージ株式会社", "nitto-package.co.jp", 11, "3-17-5", ""),
    (
        "株式会社ソラリス",
        "solaris-inc.co.jp",
        7,
        "2-1-1",
        "大崎フォレストビル8F",
    ),
    (
        "株式会社天神メディア",
        "tenjin-media.co.jp",
        21,
        "2-14-8",
        "天神CPビル6F",
    ),
    ("(株)共栄運輸", "kyoei-unyu.co.jp", 9, "4-22-3", ""),
    ("株式会社オリオン計測", "orion-keisoku.co.jp", 12, "580-16", ""),
    ("瀬戸内水産株式会社", "setouchi-suisan.co.jp", 26, "1-5-17", ""),
    ("株式会社いろは出版", "iroha-pub.co.jp", 2, "1-9-4", "本町第一ビル2F"),
    ("中日本ケミカル株式会社", "nakanihon-chemical.co.jp", 19, "2-9-26", ""),
    (
        "株式会社ハーモニー人材",
        "harmony-hr.co.jp",
        5,
        "7-5-25",
        "西新宿プライムビル11F",
    ),
    ("㈱大成工務店", "taisei-komuten.co.jp", 15, "3-4-5", ""),
    ("株式会社ウエスト電装", "west-denso.co.jp", 25, "2-5-1", ""),
    ("有限会社エコリサイクル", "eco-recycle.jp", 13, "4-1-8", ""),
    (
        "株式会社東京ビジネスサポート",
        "tokyo-bs.co.jp",
        0,
        "1-2-3",
        "丸の内ビル5F",
    ),
    (
        "丸の内キャピタル株式会社",
        "marunouchi-capital.co.jp",
        0,
        "2-7-3",
        "丸の内二丁目ビル21F",
    ),
    (
        "株式会社銀河ネットワークス",
        "ginga-networks.co.jp",
        8,
        "5-6-15",
        "豊洲ベイサイドタワー14F",
    ),
    ("日本橋紙業株式会社", "nihonbashi-shigyo.co.jp", 2, "2-1-10", ""),
    ("株式会社はやぶさ運送", "hayabusa-unso.co.jp", 17, "7-1-30", ""),
    (
        "株式会社札幌デザイン",
        "sapporo-design.co.jp",
        22,
        "2-1-9",
        "北一条三井ビル4F",
    ),
    ("仙台精密株式会社", "sendai-seimitsu.co.jp", 23, "4-10-3", ""),
    ("株式会社京都伝統工芸", "kyo-dento.co.jp", 24, "579", "京都駅前ビル3F"),
    ("株式会社アクアテック", "aquatec.co.jp", 10, "3-6-3", "MMパークビル7F"),
    ("(株)みどり薬品", "midori-yakuhin.co.jp", 16, "1-8-12", ""),
    (
        "株式会社フロンティア・ワークス",
        "frontier-works.co.jp",
        3,
        "1-17-1",
        "虎ノ門ファーストビル9F",
    ),
    ("東海樹脂工業株式会社", "tokai-jushi.co.jp", 27, "325-6", ""),
    ("株式会社ベイサイド・ホテルズ", "bayside-hotels.co.jp", 10, "4-4-2", ""),
    (
        "株式会社信和リース",
        "shinwa-lease.co.jp",
        1,
        "2-2-2",
        "大手町フィナンシャルビル18F",
    ),
    (
        "(株)ニュー・エナジー",
        "new-energy.co.jp",
        4,
        "1-1-1",
        "芝浦ウォーターフロントビル6F",
    ),
    ("株式会社プラスワン", "plusone.co.jp", 6, "1-8-3", "宮益坂ビル5F"),
    ("越後酒造株式会社", "echigo-shuzo.co.jp", 28, "3-1-1", ""),
    ("北陸精機株式会社", "hokuriku-seiki.co.jp", 29, "3-3-77", ""),
    (
        "株式会社ファインクラフト",
        "finecraft.co.jp",
        15,
        "2-2-22",
        "梅田ハービスビル8F",
    ),
    ("有限会社ﾀｶﾉ商会", "takano-shokai.co.jp", 13, "1-4-17", ""),
    (
        "株式会社エヌ・ティー・ソリューションズ",
        "nt-solutions.co.jp",
        7,
        "5-1-11",
        "大崎センタービル10F",
    ),
    ("株式会社城南ロジスティクス", "jonan-logistics.co.jp", 9, "1-3-8", ""),
    (
        "株式会社ひかり総研",
        "hikari-soken.co.jp",
        0,
        "3-2-1",
        "丸の内トラストビル12F",
    ),
];

// ---------------------------------------------------------------------------
// Positions
// ---------------------------------------------------------------------------

/// Departments with their typical sections (課).
const DEPARTMENTS: &[(&str, &[&str])] = &[
    ("営業部", &["国内営業課", "法人営業課", "営業推進課"]),
    ("第一営業部", &["営業一課", "営業二課"]),
    ("第二営業部", &["国内営業課", "海外営業課"]),
    ("海外事業部", &["アジア課", "欧米課"]),
    ("購買部", &["購買課", "調達課"]),
    ("資材部", &["資材課"]),
    ("情報システム部", &["インフラ課", "システム開発課"]),
    ("経営企画室", &[]),
    ("総務部", &["総務課", "庶務課"]),
    ("人事部", &["人事課", "採用課"]),
    ("経理部", &["経理課", "財務課"]),
    ("技術部", &["設計課", "技術開発課"]),
    ("開発部", &["第一開発課", "第二開発課"]),
    ("製造部", &["製造課", "生産管理課"]),
    ("品質保証部", &["品質管理課"]),
    ("物流部", &["配送課", "倉庫管理課"]),
    ("マーケティング部", &["販売促進課", "広報課"]),
    ("カスタマーサポート部", &[]),
    ("事業開発部", &[]),
    ("法務部", &[]),
];

/// Sales-facing departments are over-represented on cards a trading company receives.
const DEPARTMENT_WEIGHTS: &[u32] = &[10, 6, 6, 3, 6, 3, 4, 2, 2, 2, 2, 3, 3, 3, 2, 3, 3, 2, 2, 1];

#[derive(Clone, Copy, PartialEq)]
enum Rank {
    /// Top management: no department printed.
    Executive,
    /// Heads a department: department printed without section.
    Head,
    /// Everybody else: department, sometimes with section.
    Staff,
}

/// Titles: (title, weight, rank). An empty title means none printed.
const TITLES: &[(&str, u32, Rank)] = &[
    ("", 10, Rank::Staff),
    ("担当", 6, Rank::Staff),
    ("主任", 12, Rank::Staff),
    ("係長", 8, Rank::Staff),
    ("リーダー", 3, Rank::Staff),
    ("課長代理", 5, Rank::Staff),
    ("課長", 14, Rank::Staff),
    ("マネージャー", 6, Rank::Staff),
    ("シニアマネージャー", 2, Rank::Staff),
    ("次長", 4, Rank::Head),
    ("部長", 10, Rank::Head),
    ("執行役員", 2, Rank::Head),
    ("取締役", 3, Rank::Head),
    ("常務取締役", 1, Rank::Executive),
    ("専務取締役", 1, Rank::Executive),
    ("代表取締役社長", 2, Rank::Executive),
];

// ---------------------------------------------------------------------------
// Contact history
// ---------------------------------------------------------------------------

const MEETING_NOTES: &[&str] = &[
    "新製品の見積もりについて打ち合わせ。来月再訪予定。",
    "定例会議。来期の発注計画を共有いただいた。",
    "工場見学に同行。品質管理体制について説明を受けた。",
    "新規案件のキックオフ。現場の担当者を紹介いただいた。",
    "価格改定についてご相談。次回までに回答予定。",
    "オンライン会議でデモを実施。反応は良好。",
    "契約更新の条件を確認。法務部の確認待ち。",
];
const CALL_NOTES: &[&str] = &[
    "納期確認の電話。予定通りとのこと。",
    "見積もりの件で電話あり。週明けに再送する。",
    "担当変更の連絡を受けた。後任は追って紹介予定。",
    "展示会のお礼の電話。資料を送付予定。",
    "不具合の問い合わせ。技術部に確認して折り返す。",
];
const MAIL_NOTES: &[&str] = &[
    "カタログと価格表をメールで送付。",
    "打ち合わせ日程の調整メール。候補日を3つ提示。",
    "名刺交換のお礼メールを送付。",
    "見積書(第2版)を送付。",
    "サンプル発送の案内を送付。",
];
const GENERAL_NOTES: &[&str] = &[
    "年賀状を送付済み。",
    "ゴルフが趣味とのこと。",
    "来年4月に異動予定とのこと。",
    "決裁者は部長。予算は下期に確定。",
    "展示会ブースで名刺交換。",
    "競合他社とも商談中とのこと。",
];

// ---------------------------------------------------------------------------
// Romanisation (katakana -> Hepburn, as people write it in e-mail addresses)
// ---------------------------------------------------------------------------

const KANA_DIGRAPHS: &[(&str, &str)] = &[
    ("キャ", "kya"),
    ("キュ", "kyu"),
    ("キョ", "kyo"),
    ("ギャ", "gya"),
    ("ギュ", "gyu"),
    ("ギョ", "gyo"),
    ("シャ", "sha"),
    ("シュ", "shu"),
    ("ショ", "sho"),
    ("ジャ", "ja"),
    ("ジュ", "ju"),
    ("ジョ", "jo"),
    ("チャ", "cha"),
    ("チュ", "chu"),
    ("チョ", "cho"),
    ("ニャ", "nya"),
    ("ニュ", "nyu"),
    ("ニョ", "nyo"),
    ("ヒャ", "hya"),
    ("ヒュ", "hyu"),
    ("ヒョ", "hyo"),
    ("ビャ", "bya"),
    ("ビュ", "byu"),
    ("ビョ", "byo"),
    ("ピャ", "pya"),
    ("ピュ", "pyu"),
    ("ピョ", "pyo"),
    ("ミャ", "mya"),
    ("ミュ", "myu"),
    ("ミョ", "myo"),
    ("リャ", "rya"),
    ("リュ", "ryu"),
    ("リョ", "ryo"),
];

const KANA: &[(char, &str)] = &[
    ('ア', "a"),
    ('イ', "i"),
    ('ウ', "u"),
    ('エ', "e"),
    ('オ', "o"),
    ('カ', "ka"),
    ('キ', "ki"),
    ('ク', "ku"),
    ('ケ', "ke"),
    ('コ', "ko"),
    ('ガ', "ga"),
    ('ギ', "gi"),
    ('グ', "gu"),
    ('ゲ', "ge"),
    ('ゴ', "go"),
    ('サ', "sa"),
    ('シ', "shi"),
    ('ス', "su"),
    ('セ', "se"),
    ('ソ', "so"),
    ('ザ', "za"),
    ('ジ', "ji"),
    ('ズ', "zu"),
    ('ゼ', "ze"),
    ('ゾ', "zo"),
    ('タ', "ta"),
    ('チ', "chi"),
    ('ツ', "tsu"),
    ('テ', "te"),
    ('ト', "to"),
    ('ダ', "da"),
    ('ヂ', "ji"),
    ('ヅ', "zu"),
    ('デ', "de"),
    ('ド', "do"),
    ('ナ', "na"),
    ('ニ', "ni"),
    ('ヌ', "nu"),
    ('ネ', "ne"),
    ('ノ', "no"),
    ('ハ', "ha"),
    ('ヒ', "hi"),
    ('フ', "fu"),
    ('ヘ', "he"),
    ('ホ', "ho"),
    ('バ', "ba"),
    ('ビ', "bi"),
    ('ブ', "bu"),
    ('ベ', "be"),
    ('ボ', "bo"),
    ('パ', "pa"),
    ('ピ', "pi"),
    ('プ', "pu"),
    ('ペ', "pe"),
    ('ポ', "po"),
    ('マ', "ma"),
    ('ミ', "mi"),
    ('ム', "mu"),
    ('メ', "me"),
    ('モ', "mo"),
    ('ヤ', "ya"),
    ('ユ', "yu"),
    ('ヨ', "yo"),
    ('ラ', "ra"),
    ('リ', "ri"),
    ('ル', "ru"),
    ('レ', "re"),
    ('ロ', "ro"),
    ('ワ', "wa"),
    ('ヲ', "o"),
    ('ン', "n"),
];

fn kana_syllable(c: char) -> Option<&'static str> {
    KANA.iter().find(|(k, _)| *k == c).map(|(_, r)| *r)
}

fn kana_digraph(a: char, b: char) -> Option<&'static str> {
    KANA_DIGRAPHS
        .iter()
        .find(|(k, _)| {
            let mut it = k.chars();
            it.next() == Some(a) && it.next() == Some(b)
        })
        .map(|(_, r)| *r)
}

/// Romanises a katakana reading the way Japanese e-mail addresses usually
/// spell names: long vowels are not marked (サトウ → sato, オオノ → ono,
/// ユウイチ → yuichi, ー is dropped), ッ doubles the next consonant
/// (ハットリ → hattori), ャュョ combine (キョウコ → kyoko). A ウ after an
/// o-sound stays when a vowel follows (イノウエ → inoue). Spaces and unknown
/// characters are skipped.
fn romanize(kana: &str) -> String {
    let chars: Vec<char> = kana.chars().collect();
    let mut out = String::new();
    let mut prev: &str = "";
    let mut double_next = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == 'ッ' {
            double_next = true;
            i += 1;
            continue;
        }
        let (syllable, len) = match chars.get(i + 1).and_then(|&n| kana_digraph(c, n)) {
            Some(s) => (s, 2),
            None => match kana_syllable(c) {
                Some(s) => (s, 1),
                None => {
                    // ー, spaces and anything unexpected.
                    i += 1;
                    continue;
                }
            },
        };
        let next = chars.get(i + len).copied();
        let next_is_vowel = matches!(next, Some('ア' | 'イ' | 'ウ' | 'エ' | 'オ'));
        let long_vowel = match c {
            'ウ' => {
                (prev.ends_with('o') && !matches!(next, Some('ア' | 'エ' | 'オ')))
                    || prev.ends_with("yu")
                    || matches!(prev, "shu" | "ju" | "chu")
            }
            'オ' => prev.ends_with('o') && !next_is_vowel,
            _ => false,
        };
        if !long_vowel {
            if double_next {
                out.push(if syllable.starts_with("ch") {
                    't'
                } else {
                    syllable.chars().next().unwrap_or('t')
                });
            }
            out.push_str(syllable);
            prev = syllable;
        }
        double_next = false;
        i += len;
    }
    out
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// The staff: index 0 is the admin (システム管理者), then 8 members. Index 3 is the one who is leaving (退職予定).
pub fn users() -> Vec<DemoUser> {
    let mut users = vec![DemoUser {
        email: format!("admin@{OWN_DOMAIN}"),
        display_name: "システム管理者".to_string(),
        admin: true,
    }];
    for &(family, given, family_reading, given_reading) in MEMBERS {
        users.push(DemoUser {
            email: format!("{}.{}@{OWN_DOMAIN}", romanize(family_reading), romanize(given_reading)),
            display_name: format!("{family} {given}"),
            admin: false,
        });
    }
    users
}

/// Tag names the members created.
pub fn tag_names() -> Vec<&'static str> {
    TAGS.iter().map(|(name, _)| *name).collect()
}

/// Which user created tag i (index into users()); members only. Panics if `i` is out of range.
pub fn tag_creator(i: usize) -> usize {
    TAGS[i].1
}

/// `n` cards, deterministic for a given seed; owners spread over the members (not the admin), the leaving user owning a good share (~15%).
pub fn cards(n: usize, seed: u64) -> Vec<DemoCard> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut cards: Vec<DemoCard> = Vec::with_capacity(n);
    for _ in 0..n {
        let owner = pick_weighted(&mut rng, &OWNER_WEIGHTS);
        // About 3% of cards are a person another member already holds a card of.
        let duplicate_of = if !cards.is_empty() && rng.random_bool(0.03) {
            (0..10)
                .map(|_| rng.random_range(0..cards.len()))
                .find(|&j| cards[j].owner != owner)
        } else {
            None
        };
        let mut card = match duplicate_of {
            Some(j) => cards[j].clone(),
            None => new_person(&mut rng),
        };
        // People change: some met again were promoted since, some have a new mobile number
        // (the sample company's 人事異動・連絡先変更 news). Chosen by position, not drawn, so
        // that every other card stays as it was.
        if duplicate_of.is_some() {
            match cards.len() % 3 {
                0 => {
                    let at = TITLES.iter().position(|t| t.0 == card.title).unwrap_or(0);
                    card.title = TITLES[(at + 1).min(TITLES.len() - 1)].0.to_string();
                }
                1 => card.mobile = format!("080-{:04}-{:04}", cards.len() % 10_000, 1000 + cards.len() % 9000),
                _ => {}
            }
        }
        // Colleagues often receive the same person's card at the same meeting.
        let same_meeting = duplicate_of.is_some() && rng.random_bool(0.4);
        card.owner = owner;
        card.tags = random_tags(&mut rng);
        let trade_show = card.tags.contains(&TAG_TRADE_SHOW);
        if trade_show || !same_meeting {
            card.exchanged_on = exchange_date(&mut rng, trade_show);
        }
        card.contacts = random_contacts(&mut rng, card.exchanged_on);
        cards.push(card);
    }
    cards
}

// ---------------------------------------------------------------------------
// Generation helpers
// ---------------------------------------------------------------------------

fn pick_weighted(rng: &mut StdRng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut roll = rng.random_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if roll < w {
            return i;
        }
        roll -= w;
    }
    weights.len() - 1
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// FNV-1a, so that company phone numbers are fixed regardless of the seed.
fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The fixed part of a company's phone numbers: area code plus exchange, e.g. "03-3211" or "052-581".
fn company_phone_prefix(company: usize) -> String {
    let (_, domain, loc, _, _) = COMPANIES[company];
    let area = LOCATIONS[loc].2;
    let h = stable_hash(domain);
    if area.len() == 2 {
        // Tokyo 03-3xxx/5xxx/6xxx, Osaka 06-6xxx/4xxx.
        let firsts: &[u64] = if area == "03" { &[3, 5, 6] } else { &[6, 4] };
        let first = firsts[(h % firsts.len() as u64) as usize];
        format!("{area}-{}{:03}", first, (h >> 8) % 1000)
    } else {
        format!("{area}-{}{:02}", 2 + (h >> 8) % 8, (h >> 16) % 100)
    }
}

fn company_fax(company: usize) -> String {
    let h = stable_hash(COMPANIES[company].1);
    format!("{}-{:04}", company_phone_prefix(company), (h >> 24) % 10000)
}

/// Builds the e-mail local part in the company's house style.
fn email_local(company: usize, family: &str, given: &str) -> String {
    let initial = &given[..1];
    match company % 5 {
        0 => format!("{given}.{family}"),
        1 => format!("{initial}.{family}"),
        2 => format!("{family}.{given}"),
        3 => format!("{family}-{initial}"),
        _ => format!("{family}_{given}"),
    }
}

fn new_person(rng: &mut StdRng) -> DemoCard {
    // Family names: the most common twenty appear more often, as in real life.
    let family_pool = if rng.random_bool(0.4) {
        &FAMILY_NAMES[..20]
    } else {
        FAMILY_NAMES
    };
    let (family, family_reading) = pick(rng, family_pool);
    let given_pool = if rng.random_bool(0.68) {
        MALE_GIVEN_NAMES
    } else {
        FEMALE_GIVEN_NAMES
    };
    let (given, given_reading) = pick(rng, given_pool);

    let company = rng.random_range(0..COMPANIES.len());
    let (company_name, domain, loc, street, building) = COMPANIES[company];
    let (city, postal_code, _) = LOCATIONS[loc];

    let title_weights: Vec<u32> = TITLES.iter().map(|t| t.1).collect();
    let (title, _, rank) = TITLES[pick_weighted(rng, &title_weights)];
    let (dept, sections) = DEPARTMENTS[pick_weighted(rng, DEPARTMENT_WEIGHTS)];
    let department = match rank {
        Rank::Executive => String::new(),
        Rank::Head => dept.to_string(),
        Rank::Staff if !sections.is_empty() && rng.random_bool(0.6) => {
            format!("{dept} {}", pick(rng, sections))
        }
        Rank::Staff => dept.to_string(),
    };

    let email = if rng.random_bool(0.05) {
        String::new()
    } else {
        format!(
            "{}@{domain}",
            email_local(company, &romanize(family_reading), &romanize(given_reading))
        )
    };
    let phone = format!("{}-{:04}", company_phone_prefix(company), rng.random_range(0..10000));
    let mobile = if rng.random_bool(0.4) {
        String::new()
    } else {
        let carrier = pick(rng, &["090", "090", "090", "080", "080", "070"]);
        format!(
            "{carrier}-{:04}-{:04}",
            rng.random_range(1000..10000),
            rng.random_range(0..10000)
        )
    };
    let fax = if rng.random_bool(0.5) {
        String::new()
    } else {
        company_fax(company)
    };
    let address = if building.is_empty() {
        format!("{city}{street}")
    } else {
        format!("{city}{street} {building}")
    };

    DemoCard {
        owner: 0,
        full_name: format!("{family} {given}"),
        name_reading: format!("{family_reading} {given_reading}"),
        company: company_name.to_string(),
        department,
        title: title.to_string(),
        email,
        phone,
        mobile,
        fax,
        postal_code: postal_code.to_string(),
        address,
        url: format!("https://www.{domain}"),
        exchanged_on: first_day(),
        tags: Vec::new(),
        contacts: Vec::new(),
    }
}

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2019, 1, 1).expect("valid date")
}

fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, 31).expect("valid date")
}

/// 0..=2 distinct tags; never both 見込み客 and 既存取引先.
fn random_tags(rng: &mut StdRng) -> Vec<usize> {
    let count = pick_weighted(rng, &[45, 40, 15]);
    let mut tags: Vec<usize> = Vec::new();
    while tags.len() < count {
        let t = rng.random_range(0..TAGS.len());
        let conflicts =
            (t == TAG_PROSPECT && tags.contains(&TAG_EXISTING)) || (t == TAG_EXISTING && tags.contains(&TAG_PROSPECT));
        if !tags.contains(&t) && !conflicts {
            tags.push(t);
        }
    }
    tags.sort_unstable();
    tags
}

/// Mostly weekdays; cards tagged 展示会2025 were exchanged at the trade show (2025-10-15..=17).
fn exchange_date(rng: &mut StdRng, trade_show: bool) -> NaiveDate {
    if trade_show {
        return NaiveDate::from_ymd_opt(2025, 10, 15).expect("valid date") + Days::new(rng.random_range(0..3));
    }
    let span = (last_day() - first_day()).num_days() as u64;
    loop {
        let date = first_day() + Days::new(rng.random_range(0..=span));
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        if !weekend || rng.random_bool(0.1) {
            return date;
        }
    }
}

/// 0..=3 contacts in chronological order, mostly in the first weeks, none after 2026-10-31.
fn random_contacts(rng: &mut StdRng, exchanged_on: NaiveDate) -> Vec<DemoContact> {
    let count = pick_weighted(rng, &[45, 30, 17, 8]);
    let max_days = (last_day() - exchanged_on).num_days().clamp(0, 400) as f64;
    let mut days: Vec<u32> = (0..count)
        .map(|_| {
            let u: f64 = rng.random();
            (max_days * u * u) as u32
        })
        .collect();
    days.sort_unstable();
    days.into_iter()
        .map(|d| {
            let (kind, notes) = match pick_weighted(rng, &[35, 25, 25, 15]) {
                0 => ("meeting", MEETING_NOTES),
                1 => ("call", CALL_NOTES),
                2 => ("mail", MAIL_NOTES),
                _ => ("note", GENERAL_NOTES),
            };
            DemoContact {
                kind,
                days_after_exchange: d,
                body: pick(rng, notes).to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn is_reading_char(c: char) -> bool {
        ('ァ'..='ヶ').contains(&c) || c == 'ー' || c == ' '
    }

    #[test]
    fn deterministic_for_a_seed() {
        assert_eq!(cards(300, 42), cards(300, 42));
        assert_ne!(cards(300, 42), cards(300, 43));
    }

    #[test]
    fn users_are_as_documented() {
        let users = users();
        assert_eq!(users.len(), 9);
        assert!(users[0].admin);
        assert_eq!(users[0].email, "admin@example.co.jp");
        assert!(users[1..].iter().all(|u| !u.admin));
        assert_eq!(users[LEAVING_USER].email, "yamada.kenji@example.co.jp");
        assert_eq!(users[LEAVING_USER].display_name, "山田 賢治");
        let emails: HashSet<_> = users.iter().map(|u| u.email.clone()).collect();
        assert_eq!(emails.len(), users.len());
        for u in &users[1..] {
            assert!(u.email.is_ascii() && u.email.ends_with("@example.co.jp"), "{}", u.email);
            assert_eq!(u.display_name.split(' ').count(), 2);
        }
    }

    #[test]
    fn tags_created_by_members() {
        assert_eq!(tag_names().len(), TAGS.len());
        for i in 0..tag_names().len() {
            let c = tag_creator(i);
            assert!(c >= 1 && c < users().len(), "tag {i} creator {c}");
        }
    }

    #[test]
    fn owners_valid_and_leaving_share() {
        let cards = cards(2000, 7);
        assert_eq!(cards.len(), 2000);
        let n_users = users().len();
        assert!(cards.iter().all(|c| c.owner >= 1 && c.owner < n_users));
        let leaving = cards.iter().filter(|c| c.owner == LEAVING_USER).count();
        assert!((200..=400).contains(&leaving), "leaving user owns {leaving}");
        // Every member owns some cards.
        for u in 1..n_users {
            assert!(cards.iter().any(|c| c.owner == u), "user {u} owns nothing");
        }
    }

    #[test]
    fn fields_are_well_formed() {
        let tag_count = tag_names().len();
        let (from, to) = (first_day(), last_day());
        let cards = cards(2000, 1);
        let mut empty_email = 0;
        let mut empty_mobile = 0;
        let mut empty_fax = 0;
        for c in &cards {
            if c.email.is_empty() {
                empty_email += 1;
            } else {
                assert!(c.email.is_ascii() && c.email.contains('@'), "{}", c.email);
                let local = c.email.split('@').next().unwrap();
                assert!(local.len() >= 3, "{}", c.email);
            }
            empty_mobile += c.mobile.is_empty() as usize;
            empty_fax += c.fax.is_empty() as usize;
            assert!(c.name_reading.chars().all(is_reading_char), "{}", c.name_reading);
            assert_eq!(c.full_name.split(' ').count(), 2);
            assert_eq!(c.name_reading.split(' ').count(), 2);
            assert!(c.exchanged_on >= from && c.exchanged_on <= to);
            assert!(c.tags.len() <= 2 && c.tags.iter().all(|&t| t < tag_count));
            assert!(c.contacts.len() <= 3);
            for k in &c.contacts {
                assert!(["meeting", "call", "mail", "note"].contains(&k.kind));
                assert!(!k.body.is_empty());
                assert!(c.exchanged_on + Days::new(k.days_after_exchange.into()) <= to);
            }
            assert!(c.url.starts_with("https://www."));
            assert_eq!(c.postal_code.len(), 8);
            assert!(c.phone.is_ascii() && c.phone.len() == 12, "{}", c.phone);
        }
        assert!((40..=160).contains(&empty_email), "empty emails {empty_email}");
        assert!((650..=950).contains(&empty_mobile), "empty mobiles {empty_mobile}");
        assert!((850..=1150).contains(&empty_fax), "empty faxes {empty_fax}");
    }

    #[test]
    fn companies_are_consistent() {
        let mut seen: HashMap<&str, (&str, &str, &str, &str)> = HashMap::new();
        let cards = cards(2000, 3);
        for c in &cards {
            let area = c.phone.split('-').next().unwrap();
            let entry = seen.entry(c.company.as_str()).or_insert((
                c.url.as_str(),
                c.postal_code.as_str(),
                c.address.as_str(),
                area,
            ));
            assert_eq!(
                *entry,
                (c.url.as_str(), c.postal_code.as_str(), c.address.as_str(), area)
            );
            if !c.email.is_empty() {
                assert!(c.url.ends_with(c.email.split('@').nth(1).unwrap()));
            }
        }
        let domains: HashSet<_> = COMPANIES.iter().map(|c| c.1).collect();
        let names: HashSet<_> = COMPANIES.iter().map(|c| c.0).collect();
        assert_eq!(domains.len(), COMPANIES.len());
        assert_eq!(names.len(), COMPANIES.len());
        assert!(COMPANIES.iter().all(|c| c.2 < LOCATIONS.len()));
    }

    #[test]
    fn some_people_held_by_two_owners() {
        let cards = cards(2000, 9);
        let mut owners: HashMap<(&str, &str), HashSet<usize>> = HashMap::new();
        for c in &cards {
            owners
                .entry((c.full_name.as_str(), c.company.as_str()))
                .or_default()
                .insert(c.owner);
        }
        let shared = owners.values().filter(|o| o.len() >= 2).count();
        assert!((20..=120).contains(&shared), "shared persons {shared}");
    }

    #[test]
    fn name_tables_are_large_and_clean() {
        assert!(FAMILY_NAMES.len() >= 60);
        assert!(MALE_GIVEN_NAMES.len() + FEMALE_GIVEN_NAMES.len() >= 60);
        assert!(COMPANIES.len() >= 75);
        for &(_, reading) in FAMILY_NAMES.iter().chain(MALE_GIVEN_NAMES).chain(FEMALE_GIVEN_NAMES) {
            assert!(reading.chars().all(is_reading_char), "{reading}");
            // Every character must be known to the romaniser.
            let chars: Vec<char> = reading.chars().collect();
            for (i, &c) in chars.iter().enumerate() {
                let known = match c {
                    'ッ' | 'ー' => true,
                    'ャ' | 'ュ' | 'ョ' => i > 0 && kana_digraph(chars[i - 1], c).is_some(),
                    _ => kana_syllable(c).is_some(),
                };
                assert!(known, "{reading}: {c}");
            }
            let r = romanize(reading);
            assert!(
                !r.is_empty() && r.chars().all(|c| c.is_ascii_lowercase()),
                "{reading} -> {r}"
            );
        }
    }

    #[test]
    fn romanisation() {
        let cases = [
            ("サトウ", "sato"),
            ("イノウエ", "inoue"),
            ("ハットリ", "hattori"),
            ("ケンイチ", "kenichi"),
            ("ユウイチ", "yuichi"),
            ("コウイチ", "koichi"),
            ("キョウコ", "kyoko"),
            ("オオノ", "ono"),
            ("オオツカ", "otsuka"),
            ("ショウタ", "shota"),
            ("シュンスケ", "shunsuke"),
            ("トオル", "toru"),
            ("マツオ", "matsuo"),
            ("イシイ", "ishii"),
            ("ミウラ", "miura"),
            ("タケウチ", "takeuchi"),
            ("ウエダ", "ueda"),
            ("イチロウ", "ichiro"),
            ("ヨウヘイ", "yohei"),
            ("ジュンコ", "junko"),
            ("マッチ", "matchi"),
            ("ケーコ", "keko"),
            ("サトウ ケンイチ", "satokenichi"),
        ];
        for (kana, expected) in cases {
            assert_eq!(romanize(kana), expected, "{kana}");
        }
    }
}
