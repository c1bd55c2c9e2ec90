//! The audit log's hash chain (issue 17): each event of an organisation carries the hash of
//! the one before it, so an event edited, removed or inserted in the database afterwards
//! shows as a broken link when the chain is walked (`meishi audit verify`).
//!
//! - An event's place is its `seq`: 1, 2, 3, … per organisation, with no gap.
//! - `hash = SHA-256("meishi-audit-v1" ‖ prev_hash ‖ id ‖ org_id ‖ actor_id ‖ action ‖
//!   target_type ‖ target_id ‖ before_json ‖ after_json ‖ seq ‖ at)`, hex, where each text is
//!   written as one byte (0 absent, 1 present) and, when present, its length (8 bytes, big
//!   endian) and its UTF-8 bytes; `seq` and `at` (microseconds UTC) as 8 bytes big endian.
//!   The texts are the stored ones (the JSON as stored, not re-serialised), so anyone holding
//!   an export can recompute them.
//! - The first event's `prev_hash` is `GENESIS` (64 zeros).
//! - The organisation's head (`audit_heads`: the last seq and hash) is written with every
//!   event, so events removed from the end show too.
//!
//! What it does not do: someone who can write the database and recompute every hash after
//! the one they changed, and the head, leaves a valid chain. Recording the head hash
//! elsewhere (`meishi audit verify` prints it) closes that: a later verify must still reach
//! the recorded hash at the recorded seq.

use sha2::{Digest, Sha256};

/// The `prev_hash` of an organisation's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An audit event as stored, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEvent {
    pub seq: i64,
    pub id: String,
    pub org_id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// The JSON texts exactly as stored.
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    /// Microseconds since the Unix epoch, UTC.
    pub at: i64,
    pub prev_hash: String,
    pub hash: String,
}

impl ChainedEvent {
    /// The hash this event must carry, from its fields and `prev_hash`.
    pub fn computed_hash(&self) -> String {
        link_hash(&self.prev_hash, self)
    }
}

/// The hash of `e` after `prev_hash` (`e.prev_hash` and `e.hash` are not read).
pub fn link_hash(prev_hash: &str, e: &ChainedEvent) -> String {
    let mut h = Sha256::new();
    h.update(b"meishi-audit-v1");
    let mut text = |s: Option<&str>| match s {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    };
    text(Some(prev_hash));
    text(Some(&e.id));
    text(Some(&e.org_id));
    text(e.actor_id.as_deref());
    text(Some(&e.action));
    text(Some(&e.target_type));
    text(Some(&e.target_id));
    text(e.before_json.as_deref());
    text(e.after_json.as_deref());
    h.update(e.seq.to_be_bytes());
    h.update(e.at.to_be_bytes());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Why the chain breaks at an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// Events are missing before this one (its seq is not the next), or one was inserted.
    Gap { expected: i64 },
    /// Its `prev_hash` is not the previous event's hash (the previous one was changed, or
    /// this one was moved).
    Link,
    /// Its fields do not give its hash: it was changed after it was written.
    Altered,
    /// The events end before the organisation's head: the last ones were removed (or the
    /// head does not match the last event).
    Truncated { head_seq: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Gap { expected } => write!(f, "event {expected} is missing (or one was inserted)"),
            Break::Link => write!(f, "its previous hash is not the hash of the event before it"),
            Break::Altered => write!(f, "its contents do not match its hash (changed after it was written)"),
            Break::Truncated { head_seq } => write!(
                f,
                "the log ends before its head (event {head_seq}): events were removed at the end"
            ),
        }
    }
}

/// Walks one organisation's chain an event at a time, in `seq` order, keeping only the last
/// hash: memory does not grow with the log.
#[derive(Debug, Clone)]
pub struct Walk {
    next_seq: i64,
    prev_hash: String,
}

impl Default for Walk {
    fn default() -> Self {
        Self {
            next_seq: 1,
            prev_hash: GENESIS.to_string(),
        }
    }
}

impl Walk {
    /// Checks the next event; the walk moves on only past a good one.
    pub fn step(&mut self, e: &ChainedEvent) -> Result<(), Break> {
        if e.seq != self.next_seq {
            return Err(Break::Gap {
                expected: self.next_seq,
            });
        }
        if e.prev_hash != self.prev_hash {
            return Err(Break::Link);
        }
        if e.computed_hash() != e.hash {
            return Err(Break::Altered);
        }
        self.next_seq += 1;
        self.prev_hash.clone_from(&e.hash);
        Ok(())
    }

    /// Events checked so far.
    pub fn checked(&self) -> i64 {
        self.next_seq - 1
    }

    /// The last hash checked (`GENESIS` before any).
    pub fn last_hash(&self) -> &str {
        &self.prev_hash
    }

    /// After the last event: the walk must have reached the head the store keeps.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), Break> {
        if head_seq == self.checked() && head_hash == self.prev_hash {
            Ok(())
        } else {
            Err(Break::Truncated { head_seq })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, prev: &str) -> ChainedEvent {
        let mut e = ChainedEvent {
            seq,
            id: format!("id-{seq}"),
            org_id: "org".into(),
            actor_id: None,
            action: "card.create".into(),
            target_type: "card".into(),
            target_id: "c".into(),
            before_json: None,
            after_json: Some("{\"a\":1}".into()),
            at: 1_700_000_000_000_000 + seq,
            prev_hash: prev.into(),
            hash: String::new(),
        };
        e.hash = e.computed_hash();
        e
    }

    fn chain(n: i64) -> Vec<ChainedEvent> {
        let mut out: Vec<ChainedEvent> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map(|e| e.hash.clone()).unwrap_or_else(|| GENESIS.into());
            out.push(event(seq, &prev));
        }
        out
    }

    fn walk(events: &[ChainedEvent]) -> Result<Walk, (i64, Break)> {
        let mut w = Walk::default();
        for e in events {
            w.step(e).map_err(|b| (e.seq, b))?;
        }
        Ok(w)
    }

    #[test]
    fn a_chain_as_written_verifies_up_to_its_head() {
        let c = chain(5);
        let w = walk(&c).unwrap();
        assert_eq!(w.finish(5, &c[4].hash), Ok(()));
        assert_eq!(Walk::default().finish(0, GENESIS), Ok(()));
    }

    #[test]
    fn every_field_is_covered_and_absent_differs_from_empty() {
        let base = event(1, GENESIS);
        let changes: Vec<fn(&mut ChainedEvent)> = vec![
            |e| e.seq = 2,
            |e| e.id.push('x'),
            |e| e.org_id.push('x'),
            |e| e.actor_id = Some(String::new()),
            |e| e.action.push('x'),
            |e| e.target_type.push('x'),
            |e| e.target_id.push('x'),
            |e| e.before_json = Some(String::new()),
            |e| e.after_json = None,
            |e| e.at += 1,
            |e| e.prev_hash = "1".repeat(64),
        ];
        for change in changes {
            let mut e = base.clone();
            change(&mut e);
            assert_ne!(e.computed_hash(), base.hash);
        }
        // Length prefixes: moving a character from one field to the next changes the hash.
        let mut a = base.clone();
        a.action = "card.createx".into();
        a.target_type = "ard".into();
        let mut b = base.clone();
        b.action = "card.create".into();
        b.target_type = "xard".into();
        assert_ne!(a.computed_hash(), b.computed_hash());
    }

    #[test]
    fn an_edit_a_removal_and_a_truncation_break_where_they_happen() {
        let mut c = chain(4);
        c[2].action = "card.delete".into();
        assert_eq!(walk(&c).err(), Some((3, Break::Altered)));

        let mut c = chain(4);
        c.remove(1);
        assert_eq!(walk(&c).err(), Some((3, Break::Gap { expected: 2 })));

        // An edit with its hash recomputed breaks the next link.
        let mut c = chain(4);
        c[1].target_id = "other".into();
        c[1].hash = c[1].computed_hash();
        assert_eq!(walk(&c).err(), Some((3, Break::Link)));

        let c = chain(4);
        let w = walk(&c[..3]).unwrap();
        assert_eq!(w.finish(4, &c[3].hash), Err(Break::Truncated { head_seq: 4 }));
    }
}
