//! sea-orm entities, one per table of `migrate.rs`. Rows, not domain types: the store turns
//! them into the domain's view.

macro_rules! entity {
    ($module:ident, $table:literal, { $($field:ident : $ty:ty),* $(,)? }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key, auto_increment = false)]
                pub id: String,
                $(pub $field: $ty,)*
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(organization, "organizations", {
    slug: String, name: String, time_zone: String, retired_suffix: String,
    previous_owner_tag_format: String, suspend_at: String, trash_days: i64,
    execute_plan_before_suspension: bool, created_at: i64,
});

entity!(user, "users", {
    org_id: String, email: String, display_name: String, role: String, status: String,
    is_archive: bool, password_hash: Option<String>, deleted_at: Option<i64>, created_at: i64,
    updated_at: i64,
});

entity!(api_token, "api_tokens", {
    org_id: String, user_id: String, name: String, token_hash: String, created_at: i64,
    revoked_at: Option<i64>,
});

entity!(session, "sessions", {
    org_id: String, user_id: String, token_hash: String, created_at: i64, expires_at: i64,
});

entity!(card, "cards", {
    org_id: String, owner_id: String, full_name: String, name_reading: String, company: String,
    company_key: String, department: String, title: String, email: String, phone: String,
    mobile: String, fax: String, postal_code: String, address: String, url: String,
    exchanged_on: Option<String>, last_transfer_id: Option<String>, created_at: i64, updated_at: i64,
    extra: Option<String>, name_key: String, person_id: Option<i64>,
});

entity!(contact, "contacts", {
    org_id: String, card_id: String, author_id: String, kind: String, occurred_at: i64,
    body: String, created_at: i64,
});

entity!(tag, "tags", {
    org_id: String, name: String, creator_id: Option<String>, shared: bool, created_at: i64,
});

entity!(audit_event, "audit_events", {
    org_id: String, actor_id: Option<String>, action: String, target_type: String,
    target_id: String, before_json: Option<String>, after_json: Option<String>, at: i64,
    seq: i64, prev_hash: String, hash: String,
});

entity!(transfer, "transfers", {
    org_id: String, actor_id: Option<String>, from_user_id: String, to_user_id: String,
    selection: String, include_tags: bool, tag_id: String, tag_name: String, cards: i64,
    contacts: i64, tags: i64, created_at: i64, undone_at: Option<i64>, undone_by: Option<String>,
    restored: Option<i64>, skipped: Option<i64>,
});

entity!(departure, "departures", {
    org_id: String, user_id: String, kind: String, retirement_date: String, last_working_day: String,
    successor_id: String, suspend_at: Option<String>, suspend_moment: i64, status: String,
    plan_status: String, plan_reported_by: Option<String>, plan_reported_at: Option<i64>,
    plan_approved_by: Option<String>, plan_approved_at: Option<i64>, plan_executed_at: Option<i64>,
    attention_days: Option<i64>, suspended_at: Option<i64>, created_by: Option<String>, created_at: i64,
    updated_at: i64, plan_comment: Option<String>, plan_requested_at: Option<i64>,
});

entity!(handover_item, "handover_items", {
    departure_id: String, position: i64, selection: String, successor_id: String,
    transfer_id: Option<String>,
});

pub mod card_tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "card_tags")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub card_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag_id: String,
        pub org_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
