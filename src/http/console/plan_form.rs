//! The handover plan's form, shared by 私の引き継ぎ (the leaving user) and the desk's detail
//! page (an admin writing the plan on their behalf): lines of (tag or company → successor),
//! each with the number of cards it selects, counted live (htmx) as the line is edited.

use super::{Ctx, Session};
use crate::domain::departure::Plan;
use crate::domain::transfer::SelectionInput;
use crate::service::App;
use crate::service::departures::{self as svc, PlanInput, PlanItemInput};
use std::collections::HashMap;

/// Plan lines offered on the form (more when a plan already has more).
pub const LINES: usize = 4;

/// One line as the form shows it: what was chosen and how many cards it selects.
#[derive(Debug, Clone, Default)]
pub struct LineForm {
    pub i: usize,
    pub tag: String,
    pub company: String,
    pub to: String,
    pub count: Option<i64>,
}

impl LineForm {
    fn selection(&self) -> Option<SelectionInput> {
        if !self.tag.is_empty() {
            Some(SelectionInput {
                tag_id: Some(self.tag.clone()),
                ..Default::default()
            })
        } else if !self.company.is_empty() {
            Some(SelectionInput {
                company: Some(self.company.clone()),
                ..Default::default()
            })
        } else {
            None
        }
    }
}

fn padded(mut lines: Vec<LineForm>) -> Vec<LineForm> {
    while lines.len() < LINES {
        lines.push(LineForm {
            i: lines.len(),
            ..Default::default()
        });
    }
    lines
}

/// The lines of a submitted form (`tag_i`, `company_i`, `to_i`), kept as typed.
pub fn lines_of(f: &HashMap<String, String>) -> Vec<LineForm> {
    let n = (0..100)
        .take_while(|i| f.contains_key(&format!("to_{i}")) || *i < LINES)
        .count();
    padded(
        (0..n)
            .map(|i| {
                let get = |k: &str| {
                    f.get(&format!("{k}_{i}"))
                        .map(|v| v.trim().to_string())
                        .unwrap_or_default()
                };
                LineForm {
                    i,
                    tag: get("tag"),
                    company: get("company"),
                    to: get("to"),
                    count: None,
                }
            })
            .collect(),
    )
}

/// The lines of the plan as reported, to edit it.
pub fn lines_of_plan(plan: Option<&Plan>) -> Vec<LineForm> {
    let items = plan.map(|p| p.items.as_slice()).unwrap_or_default();
    padded(
        items
            .iter()
            .enumerate()
            .map(|(i, item)| LineForm {
                i,
                tag: item.selection.tag_id.clone().unwrap_or_default(),
                company: item.selection.company.clone().unwrap_or_default(),
                to: item.successor_id.to_string(),
                count: None,
            })
            .collect(),
    )
}

/// What the form's filled lines ask for. A line with a successor but no tag or company is
/// skipped (nothing to select), as is a line with a selection but no successor.
pub fn plan_input(lines: &[LineForm]) -> PlanInput {
    PlanInput {
        items: lines
            .iter()
            .filter(|l| !l.to.is_empty())
            .filter_map(|l| {
                Some(PlanItemInput {
                    selection: l.selection()?,
                    successor_id: l.to.clone(),
                })
            })
            .collect(),
    }
}

/// Fills in each filled line's card count.
pub async fn counted(app: &App, s: &Session, departure_id: &str, mut lines: Vec<LineForm>) -> Vec<LineForm> {
    for l in &mut lines {
        if let Some(sel) = l.selection() {
            l.count = svc::count_line(app, &s.actor, departure_id, &sel).await.ok();
        }
    }
    lines
}

/// The count shown next to a line: `12 件`, or nothing for an empty line.
pub fn count_text(ctx: &Ctx, count: Option<i64>) -> String {
    count
        .map(|n| ctx.t("handover.count_n").replace("%{n}", &n.to_string()))
        .unwrap_or_default()
}

/// The htmx answer for one line's count: the `<output>` that replaces the line's.
pub async fn count_fragment(app: &App, s: &Session, q: &HashMap<String, String>) -> String {
    let i: usize = q.get("i").and_then(|v| v.parse().ok()).unwrap_or(0);
    let departure = q.get("departure_id").cloned().unwrap_or_default();
    let line = lines_of(q).into_iter().nth(i).unwrap_or_default();
    let count = match line.selection() {
        Some(sel) => svc::count_line(app, &s.actor, &departure, &sel).await.ok(),
        None => None,
    };
    let zero = if count == Some(0) { " class=\"bad\"" } else { "" };
    format!(
        "<output id=\"count_{i}\" aria-live=\"polite\"{zero}>{}</output>",
        count_text(&s.ctx, count)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    )
}
