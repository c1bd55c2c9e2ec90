//! The schema, as plain SQL that both SQLite and PostgreSQL accept unchanged.
//!
//! Conventions: ids are lower-case UUIDv7 text (fixed width, so any collation orders them the
//! same), timestamps are BIGINT microseconds since the Unix epoch in UTC, dates are ISO text.

use crate::domain::normalize;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};

/// Append only: a released migration is never edited, a new one is added.
// History keeps plain ids without foreign keys on purpose, so that it outlives what it names:
// transfer_items.card_id (a card deleted after its transfer; undo reports it skipped), and
// the user ids of contacts' authors, transfers and departures (a user purged from the trash).
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    retired_suffix TEXT NOT NULL,
    previous_owner_tag_format TEXT NOT NULL,
    suspend_at TEXT NOT NULL,
    trash_days BIGINT NOT NULL,
    execute_plan_before_suspension BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    is_archive BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT,
    deleted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_org_email ON users (org_id, email);
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE cards (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    owner_id TEXT NOT NULL REFERENCES users(id),
    full_name TEXT NOT NULL,
    name_reading TEXT NOT NULL,
    company TEXT NOT NULL,
    company_key TEXT NOT NULL,
    department TEXT NOT NULL,
    title TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    mobile TEXT NOT NULL,
    fax TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    address TEXT NOT NULL,
    url TEXT NOT NULL,
    exchanged_on TEXT,
    last_transfer_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX cards_owner ON cards (org_id, owner_id, id);
CREATE INDEX cards_company ON cards (org_id, company_key, id);
CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    card_id TEXT NOT NULL REFERENCES cards(id) ON DELETE CASCADE,
    author_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX contacts_card ON contacts (card_id, id);
CREATE TABLE tags (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    creator_id TEXT REFERENCES users(id),
    shared BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX tags_personal_name ON tags (org_id, creator_id, name) WHERE creator_id IS NOT NULL;
CREATE UNIQUE INDEX tags_org_name ON tags (org_id, name) WHERE creator_id IS NULL;
CREATE TABLE card_tags (
    card_id TEXT NOT NULL REFERENCES cards(id) ON DELETE CASCADE,
    tag_id TEXT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    PRIMARY KEY (card_id, tag_id)
);
CREATE INDEX card_tags_tag ON card_tags (tag_id, card_id);
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    actor_id TEXT,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX audit_org ON audit_events (org_id, id);
CREATE TABLE transfers (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    actor_id TEXT,
    from_user_id TEXT NOT NULL,
    to_user_id TEXT NOT NULL,
    selection TEXT NOT NULL,
    include_tags BOOLEAN NOT NULL,
    tag_id TEXT NOT NULL REFERENCES tags(id),
    tag_name TEXT NOT NULL,
    cards BIGINT NOT NULL,
    contacts BIGINT NOT NULL,
    tags BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    undone_at BIGINT,
    undone_by TEXT,
    restored BIGINT,
    skipped BIGINT
);
CREATE INDEX transfers_org ON transfers (org_id, id);
CREATE TABLE transfer_items (
    transfer_id TEXT NOT NULL REFERENCES transfers(id),
    card_id TEXT NOT NULL,
    prev_transfer_id TEXT,
    tag_added BOOLEAN NOT NULL,
    PRIMARY KEY (transfer_id, card_id)
);
CREATE TABLE departures (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    retirement_date TEXT NOT NULL,
    last_working_day TEXT NOT NULL,
    successor_id TEXT NOT NULL,
    suspend_at TEXT,
    suspend_moment BIGINT NOT NULL,
    status TEXT NOT NULL,
    plan_status TEXT NOT NULL,
    plan_reported_by TEXT,
    plan_reported_at BIGINT,
    plan_approved_by TEXT,
    plan_approved_at BIGINT,
    plan_executed_at BIGINT,
    attention_days BIGINT,
    suspended_at BIGINT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX departures_org ON departures (org_id, suspend_moment);
CREATE INDEX departures_due ON departures (status, suspend_moment);
CREATE UNIQUE INDEX departures_one_open ON departures (user_id) WHERE status = 'scheduled';
CREATE TABLE handover_items (
    id TEXT PRIMARY KEY,
    departure_id TEXT NOT NULL REFERENCES departures(id),
    position BIGINT NOT NULL,
    selection TEXT NOT NULL,
    successor_id TEXT NOT NULL,
    transfer_id TEXT
);
CREATE INDEX handover_items_departure ON handover_items (departure_id, position);
CREATE TABLE transfer_tags (
    transfer_id TEXT NOT NULL REFERENCES transfers(id),
    tag_id TEXT NOT NULL REFERENCES tags(id),
    original_name TEXT NOT NULL,
    PRIMARY KEY (transfer_id, tag_id)
);
"#,
    ),
    // What an imported card holds beyond its columns (JSON), so that an export gives it back.
    (2, "ALTER TABLE cards ADD COLUMN extra TEXT"),
    // Offboarding that cannot lapse: an approved plan runs before the suspension unless an
    // organisation turns it off (on for every organisation, existing ones included); a
    // departure whose user still holds something after the suspension stays open as
    // needs_action; a plan can be sent back with a comment, and its report requested; a
    // trashed user who cannot be purged is flagged once.
    (
        3,
        r#"
UPDATE organizations SET execute_plan_before_suspension = TRUE;
ALTER TABLE departures ADD COLUMN plan_comment TEXT;
ALTER TABLE departures ADD COLUMN plan_requested_at BIGINT;
ALTER TABLE users ADD COLUMN purge_blocked_at BIGINT;
DROP INDEX departures_one_open;
CREATE UNIQUE INDEX departures_one_open ON departures (user_id) WHERE status IN ('scheduled', 'needs_action');
CREATE INDEX departures_status ON departures (status, suspend_moment)
"#,
    ),
    // The keyword search's and the name sort's keys (`normalize::card_search_key`,
    // `card_name_key`): hiragana = katakana, widths and variant kanji folded. Existing rows
    // get theirs from `fill_card_keys`, in the same transaction.
    (
        4,
        "ALTER TABLE cards ADD COLUMN search_key TEXT NOT NULL DEFAULT '';
         ALTER TABLE cards ADD COLUMN name_key TEXT NOT NULL DEFAULT ''",
    ),
    // The keyword index (store::search): its tables, engine by engine, are made after this
    // statement (`search::schema`) and filled for existing cards (`search::fill`), in the same
    // transaction; it replaces `search_key`, which every card row carried (and every export
    // read) for a LIKE that scanned every card.
    (5, "ALTER TABLE cards DROP COLUMN search_key"),
    // Same person (名寄せ), news and card history (issue 13; `domain::person`).
    // - `cards.person_id`: the person a card is of, numbered by `person_seq` (a sequence on
    //   PostgreSQL, a one-row counter on SQLite, whose writers queue anyway): ids that only
    //   grow, so new people go at the end of `cards_person`; existing cards get theirs from
    //   `service::people::place_unplaced`, a scheduler job.
    // - `person_keys`: hashed lookup keys (`person::lookup_keys`, the organisation's id is
    //   part of each hash) → the people that may match. Only ever a hint: every match is
    //   decided on the cards themselves, so a key left behind by an edit or a split is harmless.
    // - `person_candidates`: two people who may be one (same name, or same mail address
    //   only); one row per pair, lower id first, so a rejection is kept for good.
    // - `news`: at most one open item per card and kind; later arrivals fold into it (the
    //   newest values win). Its card may be written later in the same import, hence deferred.
    // - `card_history`: the previous values of every change of a card's fields.
    (
        6,
        r#"
ALTER TABLE cards ADD COLUMN person_id BIGINT;
CREATE INDEX cards_person ON cards (org_id, person_id);
{person_seq};
CREATE TABLE person_keys (
    key BIGINT NOT NULL,
    person_id BIGINT NOT NULL,
    PRIMARY KEY (key, person_id)
) {without_rowid};
CREATE TABLE person_candidates (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    person_id BIGINT NOT NULL,
    other_person_id BIGINT NOT NULL,
    card_id TEXT NOT NULL,
    other_card_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT
);
CREATE UNIQUE INDEX person_candidates_pair ON person_candidates (org_id, person_id, other_person_id);
CREATE INDEX person_candidates_other ON person_candidates (org_id, other_person_id);
CREATE TABLE news (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    card_id TEXT NOT NULL REFERENCES cards(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    new_values TEXT NOT NULL,
    source_card_id TEXT NOT NULL,
    source_day TEXT NOT NULL,
    source_created_at BIGINT NOT NULL,
    arrivals BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT
);
CREATE UNIQUE INDEX news_open ON news (card_id, kind) WHERE status = 'open';
CREATE INDEX news_org ON news (org_id, status, id);
CREATE TABLE card_history (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    card_id TEXT NOT NULL,
    actor_id TEXT,
    reason TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX card_history_card ON card_history (card_id, id)
"#,
    ),
    // Mail (issue 14; `domain::mail`).
    // - `mail_templates`: only `creator_id` edits or deletes one; `copied_from` links a copy
    //   (or a handed-over template) to its original, which may since be gone (no FK).
    // - `mail_sends`: one per send, with the template's text as it was when the send was made
    //   and `secret`, the key of its messages' opt-out links.
    // - `mail_messages`: the outbox. One row per message, written in the transaction that
    //   decides to send it; `id` is the send's id and the card's (the Message-ID, stable across
    //   a crash); the worker claims rows with a conditional update (`claimed_by`, a lease
    //   until `claimed_until`; since migration 8 until `next_attempt_at`, since migration 13 until `lease_until`). `dedupe_key` makes a handover notice or a reminder once only.
    //   No foreign keys: PostgreSQL checks each per row (a send of 100,000 spent more time
    //   checking them than writing); every row is written by `store::mail` with its send's
    //   and organisation's ids, and sends are never deleted once they hold messages.
    //   The worker's two indexes are partial (only queued rows, only claimed rows): the sent
    //   and skipped rows, nearly all of them in time, cost them nothing.
    //   A One to One send also keeps each card it left out as a row `skipped` with its
    //   `reason` (one INSERT for the whole selection; the send's history names them).
    // - `mail_suppressions`: the block (address or company key), opt-out and bounce lists.
    // - `mail_settings`: one row per organisation once it changes a default.
    (
        7,
        r#"
CREATE TABLE mail_templates (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    creator_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    html_body TEXT,
    shared BOOLEAN NOT NULL,
    copied_from TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX mail_templates_creator ON mail_templates (org_id, creator_id, id);
CREATE TABLE mail_sends (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    kind TEXT NOT NULL,
    created_by TEXT,
    template_id TEXT,
    departure_id TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    html_body TEXT,
    selection TEXT NOT NULL,
    scheduled_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    secret TEXT NOT NULL,
    queued BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    cancelled_at BIGINT
);
CREATE INDEX mail_sends_org ON mail_sends (org_id, id);
CREATE INDEX mail_sends_due ON mail_sends (status, scheduled_at);
CREATE TABLE mail_messages (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    send_id TEXT NOT NULL,
    card_id TEXT,
    recipient TEXT NOT NULL,
    to_name TEXT NOT NULL,
    company TEXT NOT NULL,
    department TEXT NOT NULL,
    title TEXT NOT NULL,
    sender_id TEXT,
    from_name TEXT NOT NULL,
    from_addr TEXT NOT NULL,
    successor_name TEXT NOT NULL,
    successor_addr TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_by TEXT,
    claimed_until BIGINT,
    last_error TEXT,
    sent_at BIGINT,
    created_at BIGINT NOT NULL,
    dedupe_key TEXT,
    reason TEXT
);
CREATE INDEX mail_messages_due ON mail_messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX mail_messages_claimed ON mail_messages (claimed_until) WHERE status = 'sending';
CREATE INDEX mail_messages_send ON mail_messages (send_id);
CREATE UNIQUE INDEX mail_messages_once ON mail_messages (org_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE TABLE mail_suppressions (
    org_id TEXT NOT NULL REFERENCES organizations(id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, kind, value)
);
CREATE TABLE mail_settings (
    org_id TEXT PRIMARY KEY REFERENCES organizations(id),
    handover_from TEXT NOT NULL,
    reminders BOOLEAN NOT NULL,
    daily_limit BIGINT NOT NULL,
    sending_domain TEXT,
    updated_at BIGINT NOT NULL
)
"#,
    ),
    // The outbox's lease moves into `next_attempt_at` (issue 14's delivery rate): a claim sets
    // status `sending` and `next_attempt_at` to the end of its lease, so one partial index over
    // queued and claimed rows finds both the due messages and the lapsed claims, in due order,
    // in the claim's own statement; `claimed_until` and its index go. A lease in force keeps
    // its end.
    (
        8,
        r#"
UPDATE mail_messages SET next_attempt_at = claimed_until WHERE status = 'sending' AND claimed_until IS NOT NULL;
DROP INDEX mail_messages_due;
DROP INDEX mail_messages_claimed;
ALTER TABLE mail_messages DROP COLUMN claimed_until;
CREATE INDEX mail_messages_due ON mail_messages (next_attempt_at) WHERE status IN ('queued', 'sending')
"#,
    ),
    // SCIM 2.0 provisioning (issue 15):
    // - `scim_tokens`: an organisation's bearer tokens for its identity provider, stored as
    //   SHA-256 hashes like the API tokens but in a table of their own, so that neither kind
    //   opens the other's door (`/scim/v2` reads only this one, `/api/v1` only `api_tokens`).
    // - `scim_users`: what the identity provider wrote of a user beyond meishi's columns:
    //   userName (unique per organisation without regard to case: `user_name_key` is its lower
    //   case), externalId, displayName as sent (a suspended user's display name carries the
    //   retired suffix), and the resource as kept (`resource`, JSON). A user without a row
    //   shows as userName = e-mail.
    // - `scim_requests`: the last requests of each organisation (the console's SCIM page),
    //   kept to the newest 100 by `store::scim::log_request`.
    (
        9,
        r#"
CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id, id);
CREATE TABLE scim_users (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    user_name TEXT NOT NULL,
    user_name_key TEXT NOT NULL,
    external_id TEXT,
    display_name TEXT NOT NULL,
    resource TEXT NOT NULL
);
CREATE UNIQUE INDEX scim_users_name ON scim_users (org_id, user_name_key);
CREATE INDEX scim_users_external ON scim_users (org_id, external_id);
CREATE TABLE scim_requests (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    token_id TEXT,
    at BIGINT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    operation TEXT NOT NULL,
    status BIGINT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX scim_requests_org ON scim_requests (org_id, id)
"#,
    ),
    // Migration 9 (issue 16; the hardening branch: ordered after migration 8 at merge):
    // sign-in throttling, shared by every server on the database. One row per key: an
    // account (`account:` organisation id, or `?` and the slug typed for an unknown one, and
    // the email typed, whether such a user exists or not) or a client address (`address:`
    // ip). `failures` in a row, the last at `last_at`; no attempt before `locked_until`.
    // `org_id` (no foreign key: an unknown organisation has none) lets an admin list and
    // lift their organisation's locks; the scheduler deletes keys whose failures are
    // forgotten (`last_at`), so that attempts on made-up names do not pile up.
    (
        10,
        r#"
CREATE TABLE sign_in_throttle (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    org_id TEXT,
    subject TEXT NOT NULL,
    failures BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
CREATE INDEX sign_in_throttle_org ON sign_in_throttle (org_id, locked_until);
CREATE INDEX sign_in_throttle_last ON sign_in_throttle (last_at)
"#,
    ),
    // The audit log's hash chain (issue 17; `domain::audit_chain`): every event gets its place
    // in its organisation's chain (`seq`), the previous event's hash and its own; `audit_heads`
    // holds each organisation's last seq and hash, the row `store::audit::append` locks.
    // The events already there are chained here, in the order they were written (id order),
    // by `chain_existing`, which then creates the unique `(org_id, seq)` index: a database
    // from before this migration verifies from its first event (the chain vouches for the
    // old events from the migration on: an edit made before it cannot be told).
    (
        11,
        r#"
ALTER TABLE audit_events ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE TABLE audit_heads (
    org_id TEXT PRIMARY KEY REFERENCES organizations(id),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
)
"#,
    ),
    // The card list in id order (the API's), a page from its cursor on, without reading the
    // organisation's other cards: without it SQLite found `org_id` in `cards_company` and
    // sorted every card of the organisation for each page (1,000,000 cards: 110-160 ms a
    // page; BENCHMARKS.md, P6).
    (12, "CREATE INDEX cards_org ON cards (org_id, id)"),
    // The outbox's claim becomes a heap-only update on PostgreSQL (issue 14's delivery rate):
    // the lease moves out of `next_attempt_at` into `lease_until`, which no index holds, and the
    // due index's predicate from `status` to `done_at` (set when a message is sent, failed,
    // bounced, cancelled or skipped), so that a claim (`status` = sending, `claimed_by`,
    // `lease_until`, `attempts`) changes no indexed column; the table keeps 55 % of each page
    // free for the claimed versions. A lease in force keeps its end.
    (
        13,
        r#"
ALTER TABLE mail_messages ADD COLUMN lease_until BIGINT;
ALTER TABLE mail_messages ADD COLUMN done_at BIGINT;
UPDATE mail_messages SET lease_until = next_attempt_at WHERE status = 'sending';
UPDATE mail_messages SET done_at = COALESCE(sent_at, created_at) WHERE status NOT IN ('queued', 'sending');
DROP INDEX mail_messages_due;
CREATE INDEX mail_messages_due ON mail_messages (next_attempt_at) WHERE done_at IS NULL;
{outbox_fillfactor}
"#,
    ),
    // The outbox in two tables (issue 14's delivery rate): a message's text
    // (`mail_messages`: addresses, names, its send, its once-only key, a skipped card's
    // reason) is written once, at enqueue, and never updated; its delivery state
    // (`mail_states`: status, attempts, due time, lease, claim, end, last error) is a row of
    // its own, keyed by the message's id, about 150 bytes against the text's kilobyte. The
    // worker's claim (heap-only on PostgreSQL, as since migration 13) and its mark (a new row
    // version, out of the due index) write only that small row. A skipped card has no state
    // row: its text row's `reason` says why (a message has a state row exactly when its
    // `reason` is NULL). `sent_at` is gone: a sent message's `done_at` is when it was sent.
    // On SQLite the state table is its primary key (WITHOUT ROWID): one b-tree to write at
    // enqueue and to probe in a mark, not two.
    // The text table's room for updated versions (migration 13) goes back to the default;
    // the state table keeps 70 % of each page free for the claims' versions. Every existing
    // message keeps its state.
    (
        14,
        r#"
CREATE TABLE mail_states (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    claimed_by TEXT,
    done_at BIGINT,
    last_error TEXT
) {without_rowid}{states_fillfactor};
INSERT INTO mail_states (id, status, attempts, next_attempt_at, lease_until, claimed_by, done_at, last_error)
SELECT id, status, attempts, next_attempt_at, lease_until, claimed_by,
       CASE WHEN status = 'sent' THEN COALESCE(sent_at, done_at) ELSE done_at END, last_error
FROM mail_messages WHERE status <> 'skipped';
UPDATE mail_messages SET reason = 'no_email' WHERE status = 'skipped' AND reason IS NULL;
UPDATE mail_messages SET reason = NULL WHERE status <> 'skipped';
DROP INDEX mail_messages_due;
ALTER TABLE mail_messages DROP COLUMN status;
ALTER TABLE mail_messages DROP COLUMN attempts;
ALTER TABLE mail_messages DROP COLUMN next_attempt_at;
ALTER TABLE mail_messages DROP COLUMN claimed_by;
ALTER TABLE mail_messages DROP COLUMN lease_until;
ALTER TABLE mail_messages DROP COLUMN done_at;
ALTER TABLE mail_messages DROP COLUMN last_error;
ALTER TABLE mail_messages DROP COLUMN sent_at;
CREATE INDEX mail_states_due ON mail_states (next_attempt_at) WHERE done_at IS NULL;
{outbox_text_fillfactor}
"#,
    ),
];

/// The versions of every migration this build knows, in order (a restored database or an
/// imported archive is compared with them).
pub fn known_versions() -> Vec<i64> {
    MIGRATIONS.iter().map(|(v, _)| *v).collect()
}

/// A migration's text for this engine: `{without_rowid}` is SQLite's `WITHOUT ROWID` (a table
/// that is its primary key, half the size), nothing on PostgreSQL; `{person_seq}` the
/// people's numbering (`store::people::new_person_ids`); `{outbox_fillfactor}` the outbox's
/// free space per page on PostgreSQL, nothing on SQLite (`{states_fillfactor}` and
/// `{outbox_text_fillfactor}`: the same for migration 14's two tables).
fn for_engine(sql: &str, sqlite: bool) -> String {
    let seq = if sqlite {
        "CREATE TABLE person_seq (id INTEGER PRIMARY KEY, next BIGINT NOT NULL); INSERT INTO person_seq VALUES (1, 1)"
    } else {
        "CREATE SEQUENCE person_seq"
    };
    // Room on each page for a claimed message's new version, so that the claim is a
    // heap-only update (SQLite has no such thing).
    let fillfactor = if sqlite {
        ""
    } else {
        "ALTER TABLE mail_messages SET (fillfactor = 45)"
    };
    // Since migration 14 the claims update the small state rows, and the text rows never.
    let (states, text) = if sqlite {
        ("", "")
    } else {
        (
            // A queued state row takes about 140 bytes of a page, a claimed version about 180
            // (`claimed_by`, `lease_until`): at 50 % a quarter of the claims found no room and
            // were not heap-only (each a new entry in both indexes). At 30 % every claim's
            // version fits, and most marks' versions too.
            "WITH (fillfactor = 30)",
            "ALTER TABLE mail_messages SET (fillfactor = 100)",
        )
    };
    sql.replace("{without_rowid}", if sqlite { "WITHOUT ROWID" } else { "" })
        .replace("{person_seq}", seq)
        .replace("{outbox_fillfactor}", fillfactor)
        .replace("{states_fillfactor}", states)
        .replace("{outbox_text_fillfactor}", text)
}

/// Rows per statement of `fill_card_keys`: three bound values each, under SQLite's 32,766.
const FILL_PAGE: usize = 1000;

/// Fills the name keys of every existing card (migration 4). The keys need NFKC, which
/// neither engine's SQL has, so they are computed here, by the function every later write
/// uses, and written a page of cards per statement (`CASE id WHEN … THEN …`): one UPDATE per
/// thousand cards, the same on both engines. (Migration 4 also added `search_key`; migration
/// 5, which always follows, drops it, so it is left empty here.)
async fn fill_card_keys(tx: &impl ConnectionTrait) -> Result<(), DbErr> {
    let mut after = String::new();
    loop {
        let rows = tx
            .query_all_raw(super::sql(
                tx,
                "SELECT id, full_name, name_reading, company, department, title, email FROM cards \
                 WHERE id > ? ORDER BY id LIMIT ?",
                vec![after.clone().into(), (FILL_PAGE as i64).into()],
            ))
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get_by_index(0)?;
        let mut name = Vec::with_capacity(rows.len() * 2);
        let mut ids = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get_by_index(0)?;
            let fields = crate::domain::CardFields {
                full_name: r.try_get_by_index(1)?,
                name_reading: r.try_get_by_index(2)?,
                company: r.try_get_by_index(3)?,
                department: r.try_get_by_index(4)?,
                title: r.try_get_by_index(5)?,
                email: r.try_get_by_index(6)?,
                ..Default::default()
            };
            name.extend([id.clone().into(), normalize::card_name_key(&fields).into()]);
            ids.push(sea_orm::Value::from(id));
        }
        let cases = " WHEN ? THEN ?".repeat(rows.len());
        let marks = vec!["?"; rows.len()].join(", ");
        let text = format!("UPDATE cards SET name_key = CASE id{cases} END WHERE id IN ({marks})");
        let mut values = name;
        values.extend(ids);
        tx.execute_raw(super::sql(tx, &text, values)).await?;
        if rows.len() < FILL_PAGE {
            return Ok(());
        }
    }
}

/// Events per statement of `chain_existing`: seven bound values each, under SQLite's 32,766.
const CHAIN_PAGE: usize = 1000;

/// Chains the audit events that were there before migration 11, organisation by
/// organisation in id order (the order they were written in), a page per UPDATE, and writes
/// each organisation's head; then the unique `(org_id, seq)` index can be made. Memory holds
/// one page.
async fn chain_existing(tx: &impl ConnectionTrait) -> Result<(), DbErr> {
    use crate::domain::audit_chain::{ChainedEvent, GENESIS, link_hash};
    let orgs = tx
        .query_all_raw(super::sql(tx, "SELECT id FROM organizations ORDER BY id", vec![]))
        .await?;
    for org in orgs {
        let org_id: String = org.try_get_by_index(0)?;
        let (mut seq, mut prev, mut after) = (0i64, GENESIS.to_string(), String::new());
        loop {
            let rows = tx
                .query_all_raw(super::sql(
                    tx,
                    "SELECT id, actor_id, action, target_type, target_id, before_json, after_json, at \
                     FROM audit_events WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?",
                    vec![org_id.clone().into(), after.clone().into(), (CHAIN_PAGE as i64).into()],
                ))
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get_by_index(0)?;
            let mut values = Vec::with_capacity(rows.len() * 7);
            let mut ids = Vec::with_capacity(rows.len());
            let (mut seqs, mut prevs, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
            for r in &rows {
                seq += 1;
                let e = ChainedEvent {
                    seq,
                    id: r.try_get_by_index(0)?,
                    org_id: org_id.clone(),
                    actor_id: r.try_get_by_index(1)?,
                    action: r.try_get_by_index(2)?,
                    target_type: r.try_get_by_index(3)?,
                    target_id: r.try_get_by_index(4)?,
                    before_json: r.try_get_by_index(5)?,
                    after_json: r.try_get_by_index(6)?,
                    at: r.try_get_by_index(7)?,
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                let hash = link_hash(&prev, &e);
                seqs.extend([sea_orm::Value::from(e.id.clone()), seq.into()]);
                prevs.extend([sea_orm::Value::from(e.id.clone()), prev.into()]);
                hashes.extend([sea_orm::Value::from(e.id.clone()), hash.clone().into()]);
                ids.push(sea_orm::Value::from(e.id));
                prev = hash;
            }
            let cases = " WHEN ? THEN ?".repeat(rows.len());
            let marks = vec!["?"; rows.len()].join(", ");
            let text = format!(
                "UPDATE audit_events SET seq = CASE id{cases} END, prev_hash = CASE id{cases} END, \
                 hash = CASE id{cases} END WHERE id IN ({marks})"
            );
            values.extend(seqs);
            values.extend(prevs);
            values.extend(hashes);
            values.extend(ids);
            tx.execute_raw(super::sql(tx, &text, values)).await?;
            if rows.len() < CHAIN_PAGE {
                break;
            }
        }
        tx.execute_raw(super::sql(
            tx,
            "INSERT INTO audit_heads (org_id, seq, hash) VALUES (?, ?, ?)",
            vec![org_id.into(), seq.into(), prev.into()],
        ))
        .await?;
    }
    tx.execute_unprepared("CREATE UNIQUE INDEX audit_chain ON audit_events (org_id, seq)")
        .await?;
    Ok(())
}

/// Applies the migrations not yet applied, each in its own transaction.
pub async fn run(db: &DatabaseConnection) -> Result<usize, DbErr> {
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let mut applied = 0;
    for (version, sql) in MIGRATIONS {
        // On SQLite a write transaction from the start (`BEGIN IMMEDIATE`): a running server's
        // writes (the mail worker's) would make a read transaction's upgrade fail, not wait.
        let tx = db.begin_with_options(super::immediate()).await?;
        let done = tx
            .query_one_raw(sea_orm::Statement::from_string(
                tx.get_database_backend(),
                format!("SELECT version FROM schema_migrations WHERE version = {version}"),
            ))
            .await?
            .is_some();
        if !done {
            let sql = for_engine(sql, tx.get_database_backend() == sea_orm::DatabaseBackend::Sqlite);
            for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                tx.execute_unprepared(stmt).await?;
            }
            if *version == 4 {
                fill_card_keys(&tx).await?;
            }
            if *version == 11 {
                chain_existing(&tx).await?;
            }
            if *version == 5 {
                for stmt in super::search::schema(super::is_sqlite(&tx)) {
                    tx.execute_unprepared(&stmt).await?;
                }
                super::search::fill(&tx)
                    .await
                    .map_err(|e| DbErr::Custom(format!("indexing the cards: {}", e.message)))?;
            }
            let now = chrono::Utc::now().timestamp_micros();
            tx.execute_unprepared(&format!(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ({version}, {now})"
            ))
            .await?;
            applied += 1;
        }
        tx.commit().await?;
    }
    Ok(applied)
}
