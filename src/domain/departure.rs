//! Departures (退職・出向): the departure and its handover plan as records, their status
//! machines, the rules that guard each change (open, plan frozen, cancel), when a departure
//! needs attention, and what readiness (引き継ぎ状況) means. Pure: the time is passed in.

use super::error::{Error, Result};
use super::ids::{DepartureId, TransferId, UserId};
use super::lifecycle::Holdings;
use super::transfer::SelectionInput;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use super::policy::{DEFAULT_SUSPEND_AT, parse_time_of_day};

/// Days before the last working day on which a departure that is not ready is flagged.
pub const ATTENTION_DAYS: [i64; 2] = [7, 1];
/// A plan has at most this many lines.
pub const MAX_PLAN_ITEMS: usize = 100;

/// Reads a stored status text; text that names no status is an error, never a default.
fn stored<T>(what: &str, raw: &str, parsed: Option<T>) -> Result<T> {
    parsed.ok_or_else(|| Error::internal(format!("stored {what} '{raw}' is not known")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DepartureKind {
    /// 退職
    Retirement,
    /// 出向
    Secondment,
}

impl DepartureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DepartureKind::Retirement => "retirement",
            DepartureKind::Secondment => "secondment",
        }
    }
    pub fn from_stored(s: &str) -> Result<Self> {
        let k = match s {
            "retirement" => Some(DepartureKind::Retirement),
            "secondment" => Some(DepartureKind::Secondment),
            _ => None,
        };
        stored("departure kind", s, k)
    }
}

/// A departure is scheduled until its suspension runs. It is then done (完了) if the user
/// holds nothing, else it needs action (要対応) until they hold nothing: nothing lapses. A
/// scheduled departure can be cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DepartureStatus {
    Scheduled,
    /// Suspended, but the user still holds cards, contacts or tags.
    NeedsAction,
    Done,
    Cancelled,
}

impl DepartureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DepartureStatus::Scheduled => "scheduled",
            DepartureStatus::NeedsAction => "needs_action",
            DepartureStatus::Done => "done",
            DepartureStatus::Cancelled => "cancelled",
        }
    }
    pub fn from_stored(s: &str) -> Result<Self> {
        let v = match s {
            "scheduled" => Some(DepartureStatus::Scheduled),
            "needs_action" => Some(DepartureStatus::NeedsAction),
            "done" => Some(DepartureStatus::Done),
            "cancelled" => Some(DepartureStatus::Cancelled),
            _ => None,
        };
        stored("departure status", s, v)
    }
    /// The machine: a scheduled departure is suspended once (done, or needs action while the
    /// user holds something) or cancelled; needs action → done when they hold nothing; done →
    /// needs action when they hold something again (an undone transfer gave cards back).
    pub fn can_become(self, next: DepartureStatus) -> bool {
        use DepartureStatus::*;
        matches!(
            (self, next),
            (Scheduled, NeedsAction | Done | Cancelled) | (NeedsAction, Done) | (Done, NeedsAction)
        )
    }
    /// On the admins' desk: not finished yet.
    pub fn is_open(self) -> bool {
        matches!(self, DepartureStatus::Scheduled | DepartureStatus::NeedsAction)
    }
}

/// The handover plan (引き継ぎ計画): none yet, reported by the user, approved (frozen) by an
/// admin, executed (its transfers ran).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    None,
    Reported,
    /// Sent back (差し戻し) by an admin with a comment; the user reports again.
    Returned,
    Approved,
    Executed,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::None => "none",
            PlanStatus::Reported => "reported",
            PlanStatus::Returned => "returned",
            PlanStatus::Approved => "approved",
            PlanStatus::Executed => "executed",
        }
    }
    pub fn from_stored(s: &str) -> Result<Self> {
        let v = match s {
            "none" => Some(PlanStatus::None),
            "reported" => Some(PlanStatus::Reported),
            "returned" => Some(PlanStatus::Returned),
            "approved" => Some(PlanStatus::Approved),
            "executed" => Some(PlanStatus::Executed),
            _ => None,
        };
        stored("plan status", s, v)
    }
    /// The machine: reported (again) until approved or sent back, sent back until reported
    /// again, approved once, then executed — again whenever the user holds something the plan
    /// covers (cards that arrived after it ran, an undone batch).
    pub fn can_become(self, next: PlanStatus) -> bool {
        use PlanStatus::*;
        matches!(
            (self, next),
            (None | Reported | Returned, Reported) | (Reported, Approved | Returned) | (Approved | Executed, Executed)
        )
    }
    /// An approved plan is frozen: its lines and its default successor no longer change.
    pub fn frozen(self) -> bool {
        matches!(self, PlanStatus::Approved | PlanStatus::Executed)
    }
}

/// A departure (退職・出向) as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Departure {
    #[schema(value_type = String)]
    pub id: DepartureId,
    #[schema(value_type = String)]
    pub user_id: UserId,
    pub kind: DepartureKind,
    pub retirement_date: NaiveDate,
    pub last_working_day: NaiveDate,
    /// Takes whatever the plan does not give to someone else.
    #[schema(value_type = String)]
    pub successor_id: UserId,
    /// Per-departure suspension time (HH:MM local), overriding the organisation's.
    pub suspend_at: Option<String>,
    /// When the account will be (or was due to be) suspended.
    pub suspend_moment: DateTime<Utc>,
    pub status: DepartureStatus,
    pub plan_status: PlanStatus,
    #[schema(value_type = Option<String>)]
    pub plan_reported_by: Option<UserId>,
    pub plan_reported_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>)]
    pub plan_approved_by: Option<UserId>,
    pub plan_approved_at: Option<DateTime<Utc>>,
    pub plan_executed_at: Option<DateTime<Utc>>,
    /// The admin's comment when the plan was sent back (差し戻し).
    pub plan_comment: Option<String>,
    /// When an admin asked the user to report the plan.
    pub plan_requested_at: Option<DateTime<Utc>>,
    /// Flagged to admins: not ready this many days (7 or 1) before the last working day; 0
    /// once the suspension has run while the user still holds something.
    pub attention_days: Option<i64>,
    pub suspended_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>)]
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One line of a handover plan: these cards go to that successor.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanItem {
    pub position: i64,
    pub selection: SelectionInput,
    #[schema(value_type = String)]
    pub successor_id: UserId,
    /// The transfer that carried it out, once executed.
    #[schema(value_type = Option<String>)]
    pub transfer_id: Option<TransferId>,
}

/// A departure's handover plan (引き継ぎ計画).
#[derive(Debug, Serialize, ToSchema)]
pub struct Plan {
    #[schema(value_type = String)]
    pub departure_id: DepartureId,
    pub status: PlanStatus,
    #[schema(value_type = String)]
    pub default_successor_id: UserId,
    pub items: Vec<PlanItem>,
}

impl Plan {
    pub fn of(d: &Departure, items: Vec<PlanItem>) -> Plan {
        Plan {
            departure_id: d.id.clone(),
            status: d.plan_status,
            default_successor_id: d.successor_id.clone(),
            items,
        }
    }
}

/// One transfer of an executing plan: a plan line, or (position none) the remainder with the
/// user's tags to the default successor.
#[derive(Debug, Clone)]
pub struct PlanLine {
    pub position: Option<i64>,
    pub selection: SelectionInput,
    pub successor_id: UserId,
    pub include_tags: bool,
}

/// What a new departure says: who leaves, when, and who takes over.
pub struct DepartureDraft {
    pub id: DepartureId,
    pub user_id: UserId,
    pub kind: DepartureKind,
    pub retirement_date: NaiveDate,
    pub last_working_day: NaiveDate,
    pub successor_id: UserId,
    pub suspend_at: Option<String>,
    pub created_by: Option<UserId>,
}

impl Departure {
    /// A scheduled departure, its suspension moment computed by the policy and checked.
    pub fn new(draft: DepartureDraft, policy: &super::policy::Policy, now: DateTime<Utc>) -> Result<Departure> {
        let mut d = Departure {
            id: draft.id,
            user_id: draft.user_id,
            kind: draft.kind,
            retirement_date: draft.retirement_date,
            last_working_day: draft.last_working_day,
            successor_id: draft.successor_id,
            suspend_at: draft.suspend_at.map(|s| s.trim().to_string()),
            suspend_moment: now,
            status: DepartureStatus::Scheduled,
            plan_status: PlanStatus::None,
            plan_reported_by: None,
            plan_reported_at: None,
            plan_approved_by: None,
            plan_approved_at: None,
            plan_executed_at: None,
            plan_comment: None,
            plan_requested_at: None,
            attention_days: None,
            suspended_at: None,
            created_by: draft.created_by,
            created_at: now,
            updated_at: now,
        };
        d.reschedule(policy, now)?;
        Ok(d)
    }

    /// Checks the dates against today and recomputes the suspension moment, which must lie
    /// ahead.
    pub fn reschedule(&mut self, policy: &super::policy::Policy, now: DateTime<Utc>) -> Result<()> {
        check_dates(self.retirement_date, self.last_working_day, policy.today(now))?;
        let moment = policy.suspension_moment(self.last_working_day, self.own_suspend_at()?);
        if moment <= now {
            return Err(
                Error::unprocessable(format!("the suspension moment {moment} has already passed"))
                    .with_field("suspend_at"),
            );
        }
        self.suspend_moment = moment;
        Ok(())
    }

    /// Recomputes the suspension moment after the organisation's policy changed (no date
    /// checks: the dates were accepted when set).
    pub fn follow_policy(&mut self, policy: &super::policy::Policy) -> Result<()> {
        self.suspend_moment = policy.suspension_moment(self.last_working_day, self.own_suspend_at()?);
        Ok(())
    }

    /// The departure's own suspension time, if it has one.
    pub fn own_suspend_at(&self) -> Result<Option<NaiveTime>> {
        self.suspend_at
            .as_deref()
            .map(|s| parse_time_of_day("suspend_at", s))
            .transpose()
    }

    /// Only a scheduled departure changes.
    pub fn ensure_open(&self) -> Result<()> {
        if self.status != DepartureStatus::Scheduled {
            return Err(Error::conflict(format!(
                "this departure is {} and can no longer change",
                self.status.as_str()
            )));
        }
        Ok(())
    }

    fn step(&self, next: DepartureStatus, now: DateTime<Utc>) -> Result<Departure> {
        self.ensure_open()?;
        if !self.status.can_become(next) {
            return Err(Error::conflict(format!(
                "a {} departure cannot become {}",
                self.status.as_str(),
                next.as_str()
            )));
        }
        Ok(Departure {
            status: next,
            updated_at: now,
            ..self.clone()
        })
    }

    /// The plan changes while the departure is on the desk: scheduled, or needing action
    /// after the suspension (an admin approves and executes what is left).
    pub fn ensure_plan_open(&self) -> Result<()> {
        if !self.status.is_open() {
            return Err(Error::conflict(format!(
                "this departure is {} and its plan can no longer change",
                self.status.as_str()
            )));
        }
        Ok(())
    }

    fn plan_step(&self, next: PlanStatus, now: DateTime<Utc>) -> Result<Departure> {
        self.ensure_plan_open()?;
        if !self.plan_status.can_become(next) {
            let message = match next {
                PlanStatus::Reported => "the plan is approved and frozen".to_string(),
                PlanStatus::Returned => format!(
                    "only a reported plan can be sent back; this one is {}",
                    self.plan_status.as_str()
                ),
                PlanStatus::Approved => format!(
                    "only a reported plan can be approved; this one is {}",
                    self.plan_status.as_str()
                ),
                _ => format!(
                    "only an approved plan can be executed; this one is {}",
                    self.plan_status.as_str()
                ),
            };
            return Err(Error::conflict(message));
        }
        Ok(Departure {
            plan_status: next,
            updated_at: now,
            ..self.clone()
        })
    }

    /// Cancelling: a scheduled departure only.
    pub fn cancelled(&self, now: DateTime<Utc>) -> Result<Departure> {
        self.step(DepartureStatus::Cancelled, now)
    }

    /// The suspension ran: done if the user holds nothing, else needs action (flagged).
    pub fn suspended(&self, holdings: &Holdings, now: DateTime<Utc>) -> Result<Departure> {
        if self.status != DepartureStatus::Scheduled {
            return Err(Error::conflict(format!(
                "this departure is {} and was suspended already",
                self.status.as_str()
            )));
        }
        let (status, attention_days) = if holdings.is_empty() {
            (DepartureStatus::Done, None)
        } else {
            (DepartureStatus::NeedsAction, Some(0))
        };
        Ok(Departure {
            suspended_at: Some(now),
            attention_days,
            ..self.step(status, now)?
        })
    }

    /// After the suspension: done once the user holds nothing (or is active again: an admin
    /// brought them back), needs action again when a user who is not active holds something.
    /// None when the status already says what the holdings say.
    pub fn settled(&self, holdings: &Holdings, user_active: bool, now: DateTime<Utc>) -> Option<Departure> {
        let settled = holdings.is_empty() || user_active;
        let (status, attention_days) = match (self.status, settled) {
            (DepartureStatus::NeedsAction, true) => (DepartureStatus::Done, None),
            (DepartureStatus::Done, false) => (DepartureStatus::NeedsAction, Some(0)),
            _ => return None,
        };
        debug_assert!(self.status.can_become(status));
        Some(Departure {
            status,
            attention_days,
            updated_at: now,
            ..self.clone()
        })
    }

    /// The departing user (or an admin) reported the plan; again and again until approved.
    pub fn plan_reported(&self, by: Option<UserId>, now: DateTime<Utc>) -> Result<Departure> {
        Ok(Departure {
            plan_reported_by: by,
            plan_reported_at: Some(now),
            plan_comment: None,
            ..self.plan_step(PlanStatus::Reported, now)?
        })
    }

    /// An admin sent the reported plan back with a comment the user sees.
    pub fn plan_returned(&self, comment: &str, now: DateTime<Utc>) -> Result<Departure> {
        let comment = super::types::required_text("comment", comment, 1000)?;
        Ok(Departure {
            plan_comment: Some(comment),
            ..self.plan_step(PlanStatus::Returned, now)?
        })
    }

    /// An admin asked the user to report the plan.
    pub fn plan_requested(&self, now: DateTime<Utc>) -> Result<Departure> {
        self.ensure_plan_open()?;
        if self.plan_status.frozen() || self.plan_status == PlanStatus::Reported {
            return Err(Error::conflict(format!(
                "the plan is {} already",
                self.plan_status.as_str()
            )));
        }
        Ok(Departure {
            plan_requested_at: Some(now),
            updated_at: now,
            ..self.clone()
        })
    }

    /// An admin approved the reported plan. An approved plan makes the departure ready: it
    /// no longer needs attention.
    pub fn plan_approved(&self, by: Option<UserId>, now: DateTime<Utc>) -> Result<Departure> {
        self.ensure_successor()?;
        Ok(Departure {
            plan_approved_by: by,
            plan_approved_at: Some(now),
            attention_days: None,
            ..self.plan_step(PlanStatus::Approved, now)?
        })
    }

    /// Whether the plan may run now: approved, or executed already while the user holds
    /// something again (the plan then hands that over too).
    pub fn ensure_executable(&self, holdings: &Holdings) -> Result<()> {
        self.ensure_successor()?;
        if self.plan_status == PlanStatus::Executed && holdings.is_empty() {
            return Err(Error::conflict("the plan has run and the user holds nothing"));
        }
        self.plan_step(PlanStatus::Executed, self.updated_at).map(|_| ())
    }

    /// A departure an identity provider opened may have no successor yet (`domain::scim`):
    /// its plan is approved and run only once an admin has named one, since the successor
    /// takes what no line selects and is frozen with the plan.
    fn ensure_successor(&self) -> Result<()> {
        if self.successor_id.as_str().is_empty() {
            return Err(Error::unprocessable(
                "this departure has no successor yet: name one before approving or running its plan",
            )
            .with_field("successor_id"));
        }
        Ok(())
    }

    /// The plan's transfers ran.
    pub fn plan_executed(&self, now: DateTime<Utc>) -> Result<Departure> {
        Ok(Departure {
            plan_executed_at: Some(now),
            ..self.plan_step(PlanStatus::Executed, now)?
        })
    }

    /// A new default successor; refused once the plan is frozen.
    pub fn set_successor(&mut self, successor: UserId) -> Result<()> {
        if self.plan_status.frozen() && successor != self.successor_id {
            return Err(
                Error::conflict("the plan is approved: its default successor is frozen").with_field("successor_id")
            );
        }
        self.successor_id = successor;
        Ok(())
    }

    /// A new last working day starts the attention countdown again: a flag belongs to a day.
    pub fn set_last_working_day(&mut self, day: NaiveDate) {
        if day != self.last_working_day {
            self.attention_days = None;
        }
        self.last_working_day = day;
    }

    /// The attention level to raise today, if a threshold (7 or 1 days before the last
    /// working day) has been reached and the departure is not flagged at it yet.
    pub fn attention_due(&self, today: NaiveDate) -> Option<i64> {
        let days = attention_threshold(self.last_working_day, today)?;
        self.attention_days.is_none_or(|a| a > days).then_some(days)
    }

    /// What executing the plan does, in order: each line, then the remainder (every card no
    /// line took, with the user's tags) to the default successor.
    pub fn execution_lines(&self, items: &[PlanItem]) -> Vec<PlanLine> {
        items
            .iter()
            .map(|i| PlanLine {
                position: Some(i.position),
                selection: i.selection.clone(),
                successor_id: i.successor_id.clone(),
                include_tags: false,
            })
            .chain(std::iter::once(PlanLine {
                position: None,
                selection: SelectionInput {
                    all: Some(true),
                    ..Default::default()
                },
                successor_id: self.successor_id.clone(),
                include_tags: true,
            }))
            .collect()
    }
}

/// Checks a departure's dates against today (in the organisation's zone).
pub fn check_dates(retirement_date: NaiveDate, last_working_day: NaiveDate, today: NaiveDate) -> Result<()> {
    // Well-formed dates that do not fit together or with today: 422 (the document can say
    // what a date is, not which ones fit).
    if last_working_day > retirement_date {
        return Err(Error::unprocessable(format!(
            "the last working day {last_working_day} is after the retirement date {retirement_date}"
        ))
        .with_field("last_working_day"));
    }
    if last_working_day < today {
        return Err(Error::unprocessable(format!(
            "the last working day {last_working_day} is in the past (today is {today})"
        ))
        .with_field("last_working_day"));
    }
    Ok(())
}

/// The attention threshold (7 or 1 days before) that `today` has reached, if any.
pub fn attention_threshold(last_working_day: NaiveDate, today: NaiveDate) -> Option<i64> {
    let days_left = (last_working_day - today).num_days();
    ATTENTION_DAYS.iter().copied().filter(|d| days_left <= *d).min()
}

/// Where a readiness item stands: done, planned (an approved plan will do it, or a reported
/// one awaits approval), open (someone must act), or not part of this server yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Done,
    Planned,
    Open,
    NotAvailable,
}

/// One line of the readiness checklist.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadinessItem {
    /// plan, cards_planned, cards, contacts, tags, templates, news
    pub key: String,
    /// False when the feature it depends on is not part of this server yet.
    pub available: bool,
    pub state: ItemState,
    /// Nothing is left to do for this item (`state` is done).
    pub done: bool,
    /// How many this item is about: for `cards_planned` the cards the plan covers, for
    /// `cards`/`contacts`/`tags` what the user still holds; none when not available.
    pub count: Option<i64>,
    pub label_ja: String,
    pub label_en: String,
    /// A courtesy, not a duty: shown done or not, never holding the departure back (the
    /// customer handover notice).
    pub optional: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Readiness {
    /// Nothing is open: before the suspension, an approved plan will hand everything over (or
    /// has); after it, the user holds nothing.
    pub ready: bool,
    /// The suspension has run (the departure needs action or is done).
    pub suspended: bool,
    pub plan_status: PlanStatus,
    pub items: Vec<ReadinessItem>,
}

impl Readiness {
    /// Adds the customer handover notice (引き継ぎのご挨拶): done once every customer with an
    /// address has had it (`left`: customers not yet told), optional.
    pub fn with_notice(mut self, left: i64) -> Self {
        let state = if left == 0 { ItemState::Done } else { ItemState::Open };
        self.items.push(ReadinessItem {
            key: "notice".into(),
            available: true,
            state,
            done: state == ItemState::Done,
            count: Some(left),
            label_ja: "顧客への引き継ぎのご挨拶（未送信）".into(),
            label_en: "Customers not yet sent the handover notice".into(),
            optional: true,
        });
        self
    }

    /// Items done, of those that are available (the desk's "x/y").
    pub fn done_of(&self) -> (usize, usize) {
        let available = self.items.iter().filter(|i| i.available && !i.optional);
        let total = available.clone().count();
        (available.filter(|i| i.done).count(), total)
    }
}

/// The checklist of a departure, given what the user holds now and whether the organisation
/// runs an approved plan right before the suspension.
///
/// Planned is told from done. An approved plan covers every card the user holds (what no line
/// names goes to the default successor) and hands their tags over with the last batch; a
/// reported one covers them too, pending approval. Before the suspension, what the user still
/// holds is *planned* while an approved plan will run (automatically, or it ran and nothing
/// came back), else open. After the suspension only holding nothing counts: whatever the
/// user holds is open, whatever the plan says.
///
/// Unprocessed news on the user's cards (`open_news`) is the user's own duty: open until each
/// item is applied or dismissed, whatever the plan (it moves with the cards when they go).
pub fn readiness(
    d: &Departure,
    holdings: &Holdings,
    open_news: i64,
    runs_before_suspension: bool,
    now: DateTime<Utc>,
) -> Readiness {
    let plan = d.plan_status;
    let suspended = d.status == DepartureStatus::NeedsAction
        || d.status == DepartureStatus::Done
        || d.suspended_at.is_some()
        || now >= d.suspend_moment;
    let settled = holdings.is_empty();
    let approved = plan.frozen();
    let reported = plan == PlanStatus::Reported;
    // The scheduler runs an approved plan, once; what the user holds after it ran is open.
    let will_run = plan == PlanStatus::Approved && runs_before_suspension;
    let holding = |n: i64| -> ItemState {
        if n == 0 {
            ItemState::Done
        } else if !suspended && (will_run || reported) {
            ItemState::Planned
        } else {
            ItemState::Open
        }
    };
    let plan_state = if approved || (suspended && settled) {
        ItemState::Done
    } else if reported {
        ItemState::Planned
    } else {
        ItemState::Open
    };
    let covered_state = if holdings.cards == 0 || approved {
        ItemState::Done
    } else if reported {
        ItemState::Planned
    } else {
        ItemState::Open
    };
    let covered = if approved || reported { holdings.cards } else { 0 };
    let item = |key: &str, state: ItemState, count: Option<i64>, ja: &str, en: &str| ReadinessItem {
        key: key.into(),
        available: state != ItemState::NotAvailable,
        state,
        done: state == ItemState::Done,
        count,
        label_ja: ja.into(),
        label_en: en.into(),
        optional: false,
    };
    let items = vec![
        item(
            "plan",
            plan_state,
            Some(i64::from(plan_state != ItemState::Done)),
            "引き継ぎ計画の承認",
            "Handover plan approved",
        ),
        item(
            "cards_planned",
            covered_state,
            Some(covered),
            "引き継ぎ計画の対象の名刺",
            "Cards covered by the plan",
        ),
        item(
            "cards",
            holding(holdings.cards),
            Some(holdings.cards),
            "まだ所有している名刺",
            "Cards still owned",
        ),
        item(
            "contacts",
            holding(holdings.contacts),
            Some(holdings.contacts),
            "まだ所有しているコンタクト",
            "Contacts still owned",
        ),
        item(
            "tags",
            holding(holdings.tags),
            Some(holdings.tags),
            "まだ所有しているタグ",
            "Tags still owned",
        ),
        item(
            "templates",
            holding(holdings.templates),
            Some(holdings.templates),
            "まだ所有しているメールテンプレート",
            "Mail templates still owned",
        ),
        item(
            "news",
            if open_news == 0 {
                ItemState::Done
            } else {
                ItemState::Open
            },
            Some(open_news),
            "未処理のニュース",
            "Unprocessed news",
        ),
    ];
    let ready = if suspended {
        settled
    } else {
        approved && items.iter().all(|i| i.state != ItemState::Open)
    };
    Readiness {
        ready,
        suspended,
        plan_status: plan,
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn dates_are_checked() {
        assert!(check_dates(d("2026-03-31"), d("2026-03-31"), d("2026-03-01")).is_ok());
        assert_eq!(
            check_dates(d("2026-03-30"), d("2026-03-31"), d("2026-03-01"))
                .unwrap_err()
                .field
                .as_deref(),
            Some("last_working_day")
        );
        assert!(check_dates(d("2026-03-31"), d("2026-02-27"), d("2026-03-01")).is_err());
    }

    #[test]
    fn attention_at_seven_and_one_days() {
        assert_eq!(attention_threshold(d("2026-03-31"), d("2026-03-20")), None);
        assert_eq!(attention_threshold(d("2026-03-31"), d("2026-03-24")), Some(7));
        assert_eq!(attention_threshold(d("2026-03-31"), d("2026-03-30")), Some(1));
    }

    #[test]
    fn readiness_tells_planned_from_done() {
        let before: DateTime<Utc> = "2026-03-02T00:00:00Z".parse().unwrap();
        let after: DateTime<Utc> = "2026-04-01T00:00:00Z".parse().unwrap();
        let held = Holdings {
            cards: 10,
            contacts: 4,
            tags: 2,
            templates: 0,
        };
        let state = |r: &Readiness, k: &str| r.items.iter().find(|i| i.key == k).unwrap().state;
        let mut d = scheduled();
        let r = readiness(&d, &held, 0, true, before);
        assert!(!r.ready);
        assert_eq!(state(&r, "cards"), ItemState::Open);
        assert_eq!(state(&r, "news"), ItemState::Done);
        assert_eq!(
            state(&readiness(&d, &held, 2, true, before), "news"),
            ItemState::Open,
            "unprocessed news is the user's to process"
        );

        d.plan_status = PlanStatus::Reported;
        let r = readiness(&d, &held, 0, true, before);
        assert!(!r.ready, "a reported plan still needs approval");
        assert_eq!(
            state(&r, "cards"),
            ItemState::Planned,
            "reported: planned, not left over"
        );
        assert_eq!(
            r.items.iter().find(|i| i.key == "cards_planned").unwrap().count,
            Some(10)
        );

        d.plan_status = PlanStatus::Approved;
        let r = readiness(&d, &held, 0, true, before);
        assert!(r.ready, "the approved plan will run before the suspension");
        assert_eq!(state(&r, "cards"), ItemState::Planned);
        assert_eq!(r.items.iter().find(|i| i.key == "cards").unwrap().count, Some(10));
        assert!(!readiness(&d, &held, 0, false, before).ready, "nobody will run it");

        let r = readiness(&d, &held, 0, true, after);
        assert!(
            !r.ready && r.suspended,
            "after the suspension only holding nothing counts"
        );
        assert_eq!(state(&r, "cards"), ItemState::Open);
        let r = readiness(&d, &Holdings::default(), 0, true, after);
        assert!(r.ready);
        assert_eq!(
            r.done_of(),
            (7, 7),
            "every item is available: news and mail templates included"
        );

        d.plan_status = PlanStatus::Executed;
        assert!(
            !readiness(&d, &held, 0, true, after).ready,
            "owned again after the plan ran"
        );
    }

    fn scheduled() -> Departure {
        let policy = crate::domain::policy::Policy {
            zone: chrono_tz::Asia::Tokyo,
            suspend_at: parse_time_of_day("t", "23:59").unwrap(),
            retired_suffix: "(退職済み)".into(),
            tag_format: "{name}".into(),
            trash_days: 30,
            execute_plan_before_suspension: false,
        };
        let now = "2026-03-01T00:00:00Z".parse().unwrap();
        let draft = DepartureDraft {
            id: "d1".into(),
            user_id: "u1".into(),
            kind: DepartureKind::Retirement,
            retirement_date: d("2026-03-31"),
            last_working_day: d("2026-03-31"),
            successor_id: "u2".into(),
            suspend_at: None,
            created_by: None,
        };
        Departure::new(draft, &policy, now).unwrap()
    }

    #[test]
    fn the_plan_goes_reported_approved_executed_and_freezes() {
        let now = "2026-03-02T00:00:00Z".parse().unwrap();
        let d0 = scheduled();
        assert_eq!(d0.suspend_moment.to_rfc3339(), "2026-03-31T14:59:00+00:00");
        assert!(d0.plan_approved(None, now).is_err(), "nothing reported yet");
        assert!(d0.ensure_executable(&Holdings::default()).is_err());
        let d1 = d0.plan_reported(None, now).unwrap();
        let d1 = d1.plan_reported(None, now).unwrap();
        let mut d2 = d1.plan_approved(None, now).unwrap();
        assert!(d2.plan_status.frozen());
        assert!(d2.plan_reported(None, now).is_err(), "frozen");
        assert!(d2.set_successor("u3".into()).is_err(), "frozen successor");
        assert!(d2.set_successor("u2".into()).is_ok(), "the same successor is no change");
        d2.ensure_executable(&Holdings::default()).unwrap();
        let d3 = d2.plan_executed(now).unwrap();
        assert!(
            d3.ensure_executable(&Holdings::default()).is_err(),
            "nothing left to run"
        );
        let one = Holdings {
            cards: 1,
            ..Default::default()
        };
        assert!(d3.ensure_executable(&one).is_ok(), "runs again for what came back");
        assert!(d3.plan_executed(now).is_ok(), "again, for what the user holds since");
        let c = d3.cancelled(now).unwrap();
        assert!(c.plan_executed(now).is_err(), "not once the departure is off the desk");
    }

    #[test]
    fn a_departure_ends_once() {
        let now = "2026-03-02T00:00:00Z".parse().unwrap();
        let d = scheduled();
        let c = d.cancelled(now).unwrap();
        assert_eq!(c.status, DepartureStatus::Cancelled);
        assert!(c.cancelled(now).is_err());
        assert!(c.suspended(&Holdings::default(), now).is_err());
        let held = Holdings {
            cards: 3,
            ..Default::default()
        };
        let lapsed = d.suspended(&held, now).unwrap();
        assert_eq!(lapsed.status, DepartureStatus::NeedsAction, "nothing lapses");
        assert_eq!(lapsed.attention_days, Some(0));
        assert!(lapsed.settled(&held, false, now).is_none());
        let settled = lapsed.settled(&Holdings::default(), false, now).unwrap();
        assert_eq!(settled.status, DepartureStatus::Done);
        assert_eq!(
            settled.settled(&held, false, now).unwrap().status,
            DepartureStatus::NeedsAction,
            "holds again"
        );
        assert!(
            settled.settled(&held, true, now).is_none(),
            "active again: nothing to hand over"
        );
        let done = d.suspended(&Holdings::default(), now).unwrap();
        assert_eq!(done.status, DepartureStatus::Done);
        assert_eq!(done.suspended_at, Some(now));
        assert!(done.cancelled(now).is_err());
        assert!(DepartureStatus::from_stored("paused").is_err());
        assert!(PlanStatus::from_stored("").is_err());
    }

    #[test]
    fn attention_is_raised_once_per_threshold_and_reset_by_a_new_day() {
        let mut dep = scheduled();
        assert_eq!(dep.attention_due(d("2026-03-20")), None);
        assert_eq!(dep.attention_due(d("2026-03-24")), Some(7));
        dep.attention_days = Some(7);
        assert_eq!(dep.attention_due(d("2026-03-25")), None);
        assert_eq!(dep.attention_due(d("2026-03-30")), Some(1));
        dep.set_last_working_day(d("2026-03-30"));
        assert_eq!(dep.attention_days, None);
        let lines = dep.execution_lines(&[]);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].include_tags && lines[0].position.is_none());
    }
}
