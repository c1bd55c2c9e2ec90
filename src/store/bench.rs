//! The SQL of `meishi bench transfer`: bulk setup of one user's N cards, and the hand-written
//! baseline that does a transfer's work (and its undo) directly, for comparison with meishi's
//! own statements in `transfers.rs`. Nothing here holds more than one chunk of rows at a time.
//! And the SQL of `meishi bench import`: its count, and the `sqlite3` script of its SQL floor.

use super::cards::{NewCard, NewContact, attach_many, insert_cards, insert_contacts, insert_tags};
use super::{Conn, Store, count, exec, new_id, sql, to_micros};
use crate::domain::model::Tag;
use crate::domain::{CardFields, ContactKind, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::Value;
use std::path::Path;

/// Personal tags the owner created; every card carries two of them.
pub const TAGS: usize = 10;
pub const CONTACTS_PER_CARD: usize = 2;
pub const TAGS_PER_CARD: usize = 2;

/// Creates the owner's personal tags; returns their ids.
pub async fn create_tags(c: &impl Conn, org_id: &str, owner: &str, now: DateTime<Utc>) -> Result<Vec<String>> {
    let tags: Vec<Tag> = (0..TAGS)
        .map(|i| Tag {
            id: new_id(),
            name: format!("ベンチタグ{i}"),
            creator_id: Some(owner.to_string()),
            shared: false,
            created_at: now,
        })
        .collect();
    insert_tags(c, org_id, &tags).await?;
    Ok(tags.into_iter().map(|t| t.id).collect())
}

fn card_fields(i: usize) -> CardFields {
    CardFields {
        full_name: format!("名刺 太郎 {i}"),
        name_reading: "めいし たろう".into(),
        company: format!("ベンチ商事{}株式会社", i % 500),
        department: "営業部".into(),
        title: "課長".into(),
        email: format!("card{i}@example.jp"),
        phone: "03-1234-5678".into(),
        mobile: "090-1234-5678".into(),
        fax: String::new(),
        postal_code: "100-0001".into(),
        address: "東京都千代田区千代田1-1".into(),
        url: "https://example.jp/".into(),
        exchanged_on: NaiveDate::from_ymd_opt(2024, 1, 1).map(|d| d + Duration::days((i % 700) as i64)),
    }
}

/// Inserts cards `first..first+n` of `owner`, each with its contacts and tag links, in one
/// transaction. Returns the number of rows written.
pub async fn insert_chunk(
    c: &impl Conn,
    org_id: &str,
    owner: &str,
    tag_ids: &[String],
    first: usize,
    n: usize,
    now: DateTime<Utc>,
) -> Result<u64> {
    let ids: Vec<String> = (0..n).map(|_| new_id()).collect();
    let cards = ids
        .iter()
        .enumerate()
        .map(|(k, id)| NewCard {
            id: id.clone(),
            owner_id: owner.to_string(),
            fields: card_fields(first + k),
            person_id: None,
        })
        .collect();
    let contacts = ids
        .iter()
        .enumerate()
        .flat_map(|(k, id)| {
            (0..CONTACTS_PER_CARD).map(move |j| NewContact {
                id: new_id(),
                card_id: id.clone(),
                author_id: owner.to_string(),
                kind: if j == 0 {
                    ContactKind::Meeting
                } else {
                    ContactKind::Call
                },
                occurred_at: now - Duration::days(((first + k) % 365) as i64),
                body: format!("打ち合わせの記録 {} の {}", first + k, j + 1),
            })
        })
        .collect();
    let links = ids
        .iter()
        .enumerate()
        .flat_map(|(k, id)| {
            (0..TAGS_PER_CARD).map(move |j| (id.clone(), tag_ids[(first + k + j) % tag_ids.len()].clone()))
        })
        .collect();
    insert_cards(c, org_id, cards, now).await?;
    insert_contacts(c, org_id, contacts, now).await?;
    attach_many(c, org_id, links).await?;
    Ok((n * (1 + CONTACTS_PER_CARD + TAGS_PER_CARD)) as u64)
}

/// Brings the database to a comparable state before each timed step: SQLite's WAL written
/// back and emptied; on PostgreSQL the previous step's dead rows vacuumed and a checkpoint.
/// Statistics are not refreshed between steps (an undo soon after its transfer meets stale
/// ones too); only [`analyze`] after the load. SQLite gets no ANALYZE at all: meishi never
/// runs one, so its planner sees what it sees in production.
pub async fn settle(store: &Store) -> Result<()> {
    let c = store.conn();
    if store.is_sqlite() {
        c.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    } else {
        c.execute_unprepared("VACUUM").await?;
        // Needs superuser or pg_checkpoint; without it the step just starts less settled.
        let _ = c.execute_unprepared("CHECKPOINT").await;
    }
    Ok(())
}

/// After the bulk load: PostgreSQL's statistics, as autovacuum would soon have them.
pub async fn analyze(store: &Store) -> Result<()> {
    if !store.is_sqlite() {
        store.conn().execute_unprepared("VACUUM ANALYZE").await?;
    }
    Ok(())
}

/// Reads the tables once so that neither contender pays for a cold cache.
pub async fn warm_up(store: &Store) -> Result<(i64, i64, i64)> {
    let c = store.conn();
    Ok((
        count(c, "SELECT COUNT(*) FROM cards", vec![]).await?,
        count(c, "SELECT COUNT(*) FROM contacts", vec![]).await?,
        count(c, "SELECT COUNT(*) FROM card_tags", vec![]).await?,
    ))
}

pub async fn count_owned(store: &Store, org_id: &str, owner: &str) -> Result<i64> {
    count(
        store.conn(),
        "SELECT COUNT(*) FROM cards WHERE org_id = ? AND owner_id = ?",
        vec![org_id.into(), owner.into()],
    )
    .await
}

pub async fn count_links(store: &Store) -> Result<i64> {
    count(store.conn(), "SELECT COUNT(*) FROM card_tags", vec![]).await
}

pub async fn count_last_transfer(store: &Store, org_id: &str, transfer_id: Option<&str>) -> Result<i64> {
    match transfer_id {
        Some(t) => {
            count(
                store.conn(),
                "SELECT COUNT(*) FROM cards WHERE org_id = ? AND last_transfer_id = ?",
                vec![org_id.into(), t.into()],
            )
            .await
        }
        None => {
            count(
                store.conn(),
                "SELECT COUNT(*) FROM cards WHERE org_id = ? AND last_transfer_id IS NULL",
                vec![org_id.into()],
            )
            .await
        }
    }
}

pub struct Baseline {
    pub transfer_id: String,
    pub tag_id: String,
    pub cards: i64,
    pub contacts: i64,
}

/// The hand-written transfer of all of `from`'s cards to `to`: the same rows as meishi writes
/// (an organisation tag, the batch header, one undo row per card, the tag links, the new
/// owners, the header's counts), as set-based SQL straight on the owner index, in one
/// write transaction.
pub async fn baseline_transfer(
    c: &impl Conn,
    org_id: &str,
    from: &str,
    to: &str,
    now: DateTime<Utc>,
) -> Result<Baseline> {
    let now = to_micros(now);
    let transfer_id = new_id();
    let tag_id = new_id();
    exec(
        c,
        "INSERT INTO tags (id, org_id, name, creator_id, shared, created_at) VALUES (?, ?, ?, NULL, ?, ?)",
        vec![
            tag_id.as_str().into(),
            org_id.into(),
            format!("baseline {transfer_id}").into(),
            true.into(),
            now.into(),
        ],
    )
    .await?;
    exec(
        c,
        "INSERT INTO transfers (id, org_id, actor_id, from_user_id, to_user_id, selection, include_tags, tag_id, \
         tag_name, cards, contacts, tags, created_at) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?)",
        vec![
            transfer_id.as_str().into(),
            org_id.into(),
            from.into(),
            to.into(),
            r#"{"all":true}"#.into(),
            false.into(),
            tag_id.as_str().into(),
            format!("baseline {transfer_id}").into(),
            now.into(),
        ],
    )
    .await?;
    let cards = exec(
        c,
        "INSERT INTO transfer_items (transfer_id, card_id, prev_transfer_id, tag_added) \
         SELECT ?, c.id, c.last_transfer_id, \
                NOT EXISTS (SELECT 1 FROM card_tags ct WHERE ct.card_id = c.id AND ct.tag_id = ?) \
         FROM cards c WHERE c.org_id = ? AND c.owner_id = ?",
        vec![
            transfer_id.as_str().into(),
            tag_id.as_str().into(),
            org_id.into(),
            from.into(),
        ],
    )
    .await? as i64;
    exec(
        c,
        "INSERT INTO card_tags (card_id, tag_id, org_id) \
         SELECT card_id, ?, ? FROM transfer_items WHERE transfer_id = ? AND tag_added",
        vec![tag_id.as_str().into(), org_id.into(), transfer_id.as_str().into()],
    )
    .await?;
    let contacts = count(
        c,
        "SELECT COUNT(*) FROM contacts WHERE card_id IN (SELECT card_id FROM transfer_items WHERE transfer_id = ?)",
        vec![transfer_id.as_str().into()],
    )
    .await?;
    exec(
        c,
        "UPDATE cards SET owner_id = ?, last_transfer_id = ?, updated_at = ? WHERE org_id = ? AND owner_id = ?",
        vec![
            to.into(),
            transfer_id.as_str().into(),
            now.into(),
            org_id.into(),
            from.into(),
        ],
    )
    .await?;
    exec(
        c,
        "UPDATE transfers SET cards = ?, contacts = ? WHERE id = ?",
        vec![cards.into(), contacts.into(), transfer_id.as_str().into()],
    )
    .await?;
    Ok(Baseline {
        transfer_id,
        tag_id,
        cards,
        contacts,
    })
}

/// The hand-written undo of [`baseline_transfer`]: puts the data back as it was (tag links,
/// owners, previous `last_transfer_id`) and removes every row the baseline added, so that
/// meishi then runs on the same data. Returns the number of cards given back.
pub async fn baseline_undo(c: &impl Conn, org_id: &str, from: &str, b: &Baseline, now: DateTime<Utc>) -> Result<i64> {
    exec(
        c,
        "DELETE FROM card_tags WHERE tag_id = ?",
        vec![b.tag_id.as_str().into()],
    )
    .await?;
    let restored = exec(
        c,
        "UPDATE cards SET owner_id = ?, last_transfer_id = ti.prev_transfer_id, updated_at = ? \
         FROM transfer_items ti \
         WHERE ti.transfer_id = ? AND ti.card_id = cards.id AND cards.org_id = ? AND cards.last_transfer_id = ?",
        vec![
            from.into(),
            to_micros(now).into(),
            b.transfer_id.as_str().into(),
            org_id.into(),
            b.transfer_id.as_str().into(),
        ],
    )
    .await? as i64;
    exec(
        c,
        "DELETE FROM transfer_items WHERE transfer_id = ?",
        vec![b.transfer_id.as_str().into()],
    )
    .await?;
    exec(
        c,
        "DELETE FROM transfers WHERE id = ?",
        vec![b.transfer_id.as_str().into()],
    )
    .await?;
    exec(c, "DELETE FROM tags WHERE id = ?", vec![b.tag_id.as_str().into()]).await?;
    Ok(restored)
}

/// PostgreSQL: the pids of the server processes serving this database (the benchmark counts
/// their CPU time); a row whose pid cannot be read is left out.
pub async fn backend_pids(store: &Store) -> Result<Vec<i32>> {
    let rows = store
        .conn()
        .query_all_raw(sql(
            store.conn(),
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()",
            vec![],
        ))
        .await?;
    Ok(rows.iter().filter_map(|r| r.try_get_by_index::<i32>(0).ok()).collect())
}

/// The organisation's cards (the import benchmark's check).
pub async fn count_cards(store: &Store, org_id: &str) -> Result<i64> {
    count(
        store.conn(),
        "SELECT COUNT(*) FROM cards WHERE org_id = ?",
        vec![org_id.into()],
    )
    .await
}

/// The organisation's people (distinct persons of its cards), cards without one, and news items.
pub async fn count_people(store: &Store, org_id: &str) -> Result<(i64, i64, i64)> {
    let c = store.conn();
    let people = count(
        c,
        "SELECT COUNT(DISTINCT person_id) FROM cards WHERE org_id = ?",
        vec![org_id.into()],
    )
    .await?;
    let unplaced = count(
        c,
        "SELECT COUNT(*) FROM cards WHERE org_id = ? AND person_id IS NULL",
        vec![org_id.into()],
    )
    .await?;
    let news = count(c, "SELECT COUNT(*) FROM news WHERE org_id = ?", vec![org_id.into()]).await?;
    Ok((people, unplaced, news))
}

/// The `sqlite3` script of the import benchmark's SQL floor: in one transaction, `indexes`
/// (the `cards` indexes' names and `CREATE INDEX` statements) dropped, the rows of the
/// baseline's plain table (`cards_plain` in the database at `plain`) copied into `cards` with
/// the import's page cache (ids made by printf, as wide and as ordered as UUIDv7s; the company
/// as its key; no tag links), and the indexes created again with the smaller sort cache.
pub fn sql_floor_script(indexes: &[(String, String)], org_id: &str, owner_id: &str, plain: &Path) -> String {
    let drop: String = indexes
        .iter()
        .map(|(name, _)| format!("DROP INDEX {name};\n"))
        .collect();
    let create: String = indexes.iter().map(|(_, create)| format!("{create};\n")).collect();
    format!(
        ".dbconfig no_ckpt_on_close on\n\
         PRAGMA cache_size = -{cache};\n\
         PRAGMA wal_autocheckpoint = 0;\n\
         ATTACH '{plain}' AS b;\n\
         BEGIN IMMEDIATE;\n\
         {drop}\
         INSERT INTO cards (id, org_id, owner_id, full_name, name_reading, company, company_key, department, \
         title, email, phone, mobile, fax, postal_code, address, url, exchanged_on, created_at, updated_at, extra, \
         name_key) \
         SELECT printf('00000000-0000-7000-8000-%012x', rowid), '{org_id}', '{owner_id}', full_name, name_reading, \
         company, company, department, title, email, phone, mobile, fax, postal_code, address, url, \
         NULLIF(exchanged_on, ''), 0, 0, NULL, name_reading FROM b.cards_plain;\n\
         PRAGMA cache_size = -{sort_cache};\n\
         {create}\
         COMMIT;\n",
        cache = super::BULK_CACHE_KIB,
        sort_cache = super::imports::SORT_CACHE_KIB,
        plain = plain.display(),
    )
}

/// The search benchmark's baseline: a page of the API's first page (id order, 51 rows) found
/// the way a keyword was found before the index, a `LIKE '%…%'` over each searchable column
/// (as typed, `%` and `_` escaped), which reads cards in id order until it has 51 matches or
/// none are left. Returns the rows found.
pub async fn like_page(store: &Store, org_id: &str, q: &str) -> Result<usize> {
    let c = store.conn();
    let mut pattern = String::from("%");
    for ch in q.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    let columns = [
        "full_name",
        "name_reading",
        "company",
        "department",
        "title",
        "email",
        "phone",
        "mobile",
    ];
    let any = columns
        .iter()
        .map(|col| format!("{col} LIKE ? ESCAPE '\\'"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let mut values: Vec<sea_orm::Value> = vec![org_id.into()];
    values.extend(columns.iter().map(|_| sea_orm::Value::from(pattern.clone())));
    let text = format!("SELECT * FROM cards WHERE org_id = ? AND ({any}) ORDER BY id LIMIT 51");
    Ok(c.query_all_raw(sql(c, &text, values)).await?.len())
}

/// The keyword index's size in bytes (`store::search::size`) and the `cards` table's
/// (SQLite: its pages in `dbstat`; PostgreSQL: `pg_total_relation_size`, indexes included).
pub async fn search_sizes(store: &Store) -> Result<(i64, i64)> {
    let c = store.conn();
    let cards = if store.is_sqlite() {
        "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = 'cards' OR name IN (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'cards')"
    } else {
        "SELECT pg_total_relation_size('cards')"
    };
    Ok((super::search::size(c).await?, count(c, cards, vec![]).await?))
}

/// `meishi bench mail`'s cards: `n` cards of company 甲社 spread over `owners` in turn, made by
/// one statement. Every tenth card starts a person whose next two cards (other holders) are
/// the same person; one card in twenty has no address; the rest have their own.
pub async fn insert_mail_cards(
    c: &impl Conn,
    org_id: &str,
    owners: &[String],
    n: usize,
    now: DateTime<Utc>,
) -> Result<u64> {
    let owner_rows = (0..owners.len())
        .map(|k| format!("SELECT {k} AS k, CAST(? AS TEXT) AS id"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut values: Vec<Value> = owners.iter().map(|o| Value::from(o.clone())).collect();
    values.extend([org_id.into(), to_micros(now).into()]);
    let k = owners.len();
    let text = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}), o AS ({owner_rows}) \
         INSERT INTO cards (id, org_id, owner_id, full_name, name_reading, company, company_key, department, title, \
         email, phone, mobile, fax, postal_code, address, url, created_at, updated_at, person_id) \
         SELECT 'mail-' || CAST(n.i AS TEXT), ?, o.id, '顧客 ' || CAST(n.i AS TEXT), '', '甲社', '甲社', '営業部', '', \
         CASE WHEN n.i % 20 = 7 THEN '' ELSE 'c' || CAST(n.i AS TEXT) || '@kunde.example' END, \
         '', '', '', '', '', '', ? + n.i, 0, CASE WHEN n.i % 10 IN (1, 2) THEN n.i - n.i % 10 ELSE n.i END \
         FROM n JOIN o ON o.k = n.i % {k}"
    );
    Ok(c.execute_raw(sql(c, &text, values)).await?.rows_affected())
}

/// The floor of a One to One send's enqueue: the selected cards copied into the outbox as they
/// are (no resolution: no owner, person, address or list rules), one statement per table (the
/// messages' text, their states). Returns the messages.
pub async fn mail_floor(
    c: &impl Conn,
    org_id: &str,
    send_id: &str,
    company_key: &str,
    now: DateTime<Utc>,
) -> Result<u64> {
    let text = "INSERT INTO mail_messages (id, org_id, send_id, card_id, recipient, to_name, company, department, title, \
         sender_id, from_name, from_addr, successor_name, successor_addr, created_at) \
         SELECT CAST(? AS TEXT) || '.' || c.id, c.org_id, ?, c.id, c.email, c.full_name, c.company, c.department, c.title, \
         c.owner_id, u.display_name, u.email, '', '', ? \
         FROM cards c JOIN users u ON u.id = c.owner_id WHERE c.org_id = ? AND c.company_key = ?";
    let at = to_micros(now);
    let values: Vec<Value> = vec![
        send_id.into(),
        send_id.into(),
        at.into(),
        org_id.into(),
        company_key.into(),
    ];
    let n = c.execute_raw(sql(c, text, values)).await?.rows_affected();
    exec(
        c,
        "INSERT INTO mail_states (id, status, attempts, next_attempt_at) \
         SELECT id, 'queued', 0, ? FROM mail_messages WHERE send_id = ?",
        vec![at.into(), send_id.into()],
    )
    .await?;
    Ok(n)
}

/// `meishi bench audit`'s baseline: an audit event written as it was before the chain (one
/// INSERT, no head read or moved). Its `seq` is negative, outside any chain, so that the
/// `(org_id, seq)` index takes it; the organisation it goes to is the baseline's own.
pub async fn insert_unchained_event(c: &impl Conn, org_id: &str, n: i64, at: DateTime<Utc>) -> Result<()> {
    exec(
        c,
        "INSERT INTO audit_events (id, org_id, actor_id, action, target_type, target_id, before_json, \
         after_json, at, seq, prev_hash, hash) VALUES (?, ?, NULL, 'bench.event', 'bench', ?, NULL, ?, ?, ?, '', '')",
        vec![
            new_id().into(),
            org_id.into(),
            n.to_string().into(),
            format!("{{\"n\":{n}}}").into(),
            to_micros(at).into(),
            (-n - 1).into(),
        ],
    )
    .await?;
    Ok(())
}

/// The first card id of `meishi bench http`'s cards; card `i`'s id is this followed by `i` in
/// twelve decimal digits: a valid UUID (decimal digits are hex digits), ordered as `i`, below
/// every UUIDv7 a server makes (so new cards list after them).
pub const HTTP_CARD_PREFIX: &str = "00000000-0000-7000-8000-";

/// Card `i`'s id (`HTTP_CARD_PREFIX`).
pub fn http_card_id(i: usize) -> String {
    format!("{HTTP_CARD_PREFIX}{i:012}")
}

/// A company of `meishi bench http`'s cards: its name, its key (`normalize::company`, which
/// SQL cannot compute) and an exchange date.
pub struct HttpCompany {
    pub name: String,
    pub key: String,
    pub exchanged_on: String,
}

/// `meishi bench http`'s cards `first..first+n`, one INSERT … SELECT: card `i` belongs to
/// `owners[i % owners]` and `companies[i % companies]`, its person is `person_base + i`
/// (reserved by the caller, so no scheduler run has cards to place). `name_key` is the key of
/// the one reading every card has. No keyword-index entries (the benchmark does not search; an
/// edit writes the card's). Returns the cards written.
#[allow(clippy::too_many_arguments)]
pub async fn insert_http_cards(
    c: &impl Conn,
    org_id: &str,
    owners: &[String],
    companies: &[HttpCompany],
    name_key: &str,
    first: usize,
    n: usize,
    person_base: i64,
    now: DateTime<Utc>,
) -> Result<u64> {
    // VALUES rows: SQLite allows 500 terms in a compound SELECT, a VALUES list any number.
    let owner_rows = (0..owners.len())
        .map(|k| format!("({k}, CAST(? AS TEXT))"))
        .collect::<Vec<_>>()
        .join(", ");
    let company_rows = (0..companies.len())
        .map(|k| format!("({k}, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT))"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut values: Vec<Value> = owners.iter().map(|o| Value::from(o.clone())).collect();
    for co in companies {
        values.extend([
            co.name.as_str().into(),
            co.key.as_str().into(),
            co.exchanged_on.as_str().into(),
        ]);
    }
    let at = to_micros(now);
    values.extend([org_id.into(), name_key.into(), at.into(), at.into(), person_base.into()]);
    let (ko, kc, last) = (owners.len(), companies.len(), first + n - 1);
    let text = format!(
        "WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last}), \
         o(k, id) AS (VALUES {owner_rows}), co(k, cname, ckey, cday) AS (VALUES {company_rows}) \
         INSERT INTO cards (id, org_id, owner_id, full_name, name_reading, company, company_key, name_key, \
         department, title, email, phone, mobile, fax, postal_code, address, url, exchanged_on, created_at, \
         updated_at, person_id) \
         SELECT '{HTTP_CARD_PREFIX}' || substr(CAST(1000000000000 + n.i AS TEXT), 2), ?, o.id, \
         '名刺 太郎 ' || CAST(n.i AS TEXT), 'めいし たろう', co.cname, co.ckey, ?, '営業部', '課長', \
         'card' || CAST(n.i AS TEXT) || '@example.jp', '03-1234-5678', '090-1234-5678', '', '100-0001', \
         '東京都千代田区千代田1-1', 'https://example.jp/', co.cday, ?, ?, ? + n.i \
         FROM n JOIN o ON o.k = n.i % {ko} JOIN co ON co.k = n.i % {kc}"
    );
    Ok(c.execute_raw(sql(c, &text, values)).await?.rows_affected())
}

/// Links the tag to the organisation's benchmark cards whose number `i` has `i % modulus ==
/// rest` (`insert_http_cards`). Returns the links written.
pub async fn tag_http_cards(c: &impl Conn, org_id: &str, tag_id: &str, modulus: u32, rest: u32) -> Result<u64> {
    let start = HTTP_CARD_PREFIX.len() + 1;
    exec(
        c,
        &format!(
            "INSERT INTO card_tags (card_id, tag_id, org_id) SELECT id, ?, org_id FROM cards \
             WHERE org_id = ? AND id LIKE '{HTTP_CARD_PREFIX}%' AND CAST(substr(id, {start}) AS BIGINT) % {modulus} = {rest}"
        ),
        vec![tag_id.into(), org_id.into()],
    )
    .await
}

/// `meishi bench http`'s raw-SQL limit: the first page's 50 cards (every column) of the
/// organisation in id order, as anyone would write it, read by the driver and nothing else
/// (no token, no tags, no JSON). Returns the rows read.
pub async fn first_page_raw(store: &Store, org_id: &str) -> Result<usize> {
    let c = store.conn();
    let text = "SELECT * FROM cards WHERE org_id = ? ORDER BY id LIMIT 50";
    Ok(c.query_all_raw(sql(c, text, vec![org_id.into()])).await?.len())
}
