//! Checking the audit chains: every event's hash recomputed here, in Rust, from the canonical
//! encoding migration 0008 documents (independently of the SQL trigger that wrote it), each
//! event linked to the one before, and each chain's end matched with its chain head — and, with
//! heads kept outside the database, with those.
//!
//! What a broken link means: a hash that does not match its row — the row was edited; a gap in
//! `seq` or a `prev_hash` that is not the previous event's hash — a row was deleted; a chain
//! ending before its head (or before a kept head) — the newest rows were deleted.

use sha2::{Digest, Sha256};

use crate::{Caller, Store, StoreError};

/// The newest event of a chain (`municipality_code` `None`: the national chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub municipality_code: Option<String>,
    pub seq: i64,
    pub hash: String,
}

impl ChainHead {
    /// `<municipality or -> <seq> <hash>`, one line of a heads file.
    pub fn to_line(&self) -> String {
        format!(
            "{} {} {}",
            self.municipality_code.as_deref().unwrap_or("-"),
            self.seq,
            self.hash
        )
    }

    /// Reads a line written by [`ChainHead::to_line`].
    pub fn parse_line(line: &str) -> Option<ChainHead> {
        let mut parts = line.split_whitespace();
        let m = parts.next()?;
        let seq = parts.next()?.parse().ok()?;
        let hash = parts.next()?.to_owned();
        if parts.next().is_some() || hash.len() != 64 {
            return None;
        }
        Some(ChainHead {
            municipality_code: (m != "-").then(|| m.to_owned()),
            seq,
            hash,
        })
    }
}

/// The first broken link of a chain, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub municipality_code: Option<String>,
    /// Events read.
    pub events: u64,
    /// What is wrong first, if anything.
    pub broken: Option<String>,
}

/// The fields of one event as stored, in the order of the canonical encoding.
#[derive(Debug, Clone)]
pub struct EventFields {
    pub chain: String,
    pub seq: i64,
    pub occurred_at_micros: i64,
    pub subject: String,
    pub acting_municipality: Option<String>,
    pub rpc: String,
    pub action: String,
    pub entity_kind: String,
    pub entity_id: String,
    pub person_code: Option<String>,
    pub purpose: Option<String>,
    pub details: String,
    pub prev_hash: String,
}

/// The canonical encoding (migration 0008): each field as `<octet length>:<text>,`, NULL as `~,`.
pub fn encode(e: &EventFields) -> Vec<u8> {
    let mut out = Vec::new();
    let mut field = |v: Option<&str>| match v {
        None => out.extend_from_slice(b"~,"),
        Some(t) => {
            out.extend_from_slice(format!("{}:", t.len()).as_bytes());
            out.extend_from_slice(t.as_bytes());
            out.push(b',');
        }
    };
    field(Some(&e.chain));
    field(Some(&e.seq.to_string()));
    field(Some(&e.occurred_at_micros.to_string()));
    field(Some(&e.subject));
    field(e.acting_municipality.as_deref());
    field(Some(&e.rpc));
    field(Some(&e.action));
    field(Some(&e.entity_kind));
    field(Some(&e.entity_id));
    field(e.person_code.as_deref());
    field(e.purpose.as_deref());
    field(Some(&e.details));
    field(Some(&e.prev_hash));
    out
}

/// hex(sha256(encode(e))).
pub fn event_hash(e: &EventFields) -> String {
    hex::encode(Sha256::digest(encode(e)))
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Store {
    /// The newest (municipality, seq, hash) of every chain, from the chain-head table.
    pub async fn audit_heads(&self, caller: &Caller) -> Result<Vec<ChainHead>, StoreError> {
        let rows = self
            .query_as(
                caller,
                "SELECT nullif(chain, ''), seq, hash FROM audit_chain_head ORDER BY chain",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ChainHead {
                municipality_code: r.get(0),
                seq: r.get(1),
                hash: r.get(2),
            })
            .collect())
    }

    /// Checks every chain `caller` can read (reach all: all of them) and, when given, that the
    /// chains still reach `kept` heads. One report per chain, in chain order.
    pub async fn verify_audit(
        &self,
        caller: &Caller,
        kept: &[ChainHead],
    ) -> Result<Vec<ChainReport>, StoreError> {
        let heads = self.audit_heads(caller).await?;
        let rows = self
            .query_as(
                caller,
                "SELECT coalesce(municipality_code::text, ''), seq,
                        (extract(epoch FROM occurred_at) * 1000000)::bigint, subject,
                        acting_municipality::text, rpc, action, entity_kind, entity_id,
                        person_code, purpose, details::text, prev_hash, hash
                 FROM audit_event ORDER BY 1, seq",
                &[],
            )
            .await?;
        let mut reports: Vec<ChainReport> = Vec::new();
        let mut prev: Option<(i64, String)> = None;
        for r in &rows {
            let e = EventFields {
                chain: r.get(0),
                seq: r.get(1),
                occurred_at_micros: r.get(2),
                subject: r.get(3),
                acting_municipality: r.get(4),
                rpc: r.get(5),
                action: r.get(6),
                entity_kind: r.get(7),
                entity_id: r.get(8),
                person_code: r.get(9),
                purpose: r.get(10),
                details: r.get(11),
                prev_hash: r.get(12),
            };
            let stored: String = r.get(13);
            let code = (!e.chain.is_empty()).then(|| e.chain.clone());
            if reports.last().map(|c| &c.municipality_code) != Some(&code) {
                reports.push(ChainReport {
                    municipality_code: code,
                    events: 0,
                    broken: None,
                });
                prev = Some((0, GENESIS.to_owned()));
            }
            let report = reports.last_mut().expect("a chain");
            report.events += 1;
            if report.broken.is_some() {
                continue;
            }
            let (prev_seq, prev_hash) = prev.clone().expect("a chain");
            report.broken = if e.seq != prev_seq + 1 {
                Some(format!(
                    "event {} follows event {prev_seq}: events {}..{} are missing",
                    e.seq,
                    prev_seq + 1,
                    e.seq - 1
                ))
            } else if e.prev_hash != prev_hash {
                Some(format!(
                    "event {} does not link to the event before it (prev_hash differs)",
                    e.seq
                ))
            } else if event_hash(&e) != stored {
                Some(format!(
                    "event {} was changed (its hash does not match)",
                    e.seq
                ))
            } else {
                None
            };
            prev = Some((e.seq, stored));
        }
        // The chain's end against its head, and against the heads kept elsewhere.
        let ends: Vec<(Option<String>, i64, String)> = {
            let mut ends = Vec::new();
            let mut last: Option<(Option<String>, i64, String)> = None;
            for r in &rows {
                let chain: String = r.get(0);
                let code = (!chain.is_empty()).then_some(chain);
                if let Some(l) = &last
                    && l.0 != code
                {
                    ends.push(l.clone());
                }
                last = Some((code, r.get(1), r.get(13)));
            }
            ends.extend(last);
            ends
        };
        let end_of = |m: &Option<String>| ends.iter().find(|e| &e.0 == m).cloned();
        for head in heads.iter().chain(kept) {
            let report = match reports
                .iter_mut()
                .find(|r| r.municipality_code == head.municipality_code)
            {
                Some(r) => r,
                None => {
                    reports.push(ChainReport {
                        municipality_code: head.municipality_code.clone(),
                        events: 0,
                        broken: None,
                    });
                    reports.last_mut().expect("pushed")
                }
            };
            if report.broken.is_some() || head.seq == 0 {
                continue;
            }
            let (seq, hash) = match end_of(&head.municipality_code) {
                Some((_, seq, hash)) => (seq, hash),
                None => (0, GENESIS.to_owned()),
            };
            let kept_head = !heads.contains(head);
            if seq < head.seq {
                report.broken = Some(format!(
                    "the chain ends at event {seq}, but {} names event {}: the newest events were deleted",
                    if kept_head {
                        "a kept head"
                    } else {
                        "its chain head"
                    },
                    head.seq
                ));
            } else if seq == head.seq && hash != head.hash {
                report.broken = Some(format!(
                    "event {seq} does not have the hash {} names",
                    if kept_head {
                        "a kept head"
                    } else {
                        "its chain head"
                    }
                ));
            } else if seq > head.seq && !kept_head {
                report.broken = Some(format!(
                    "the chain goes past its chain head (event {seq} after {})",
                    head.seq
                ));
            } else if seq > head.seq {
                // A kept head older than the end: the event it names must still be in the chain.
                let found = rows.iter().any(|r| {
                    let chain: String = r.get(0);
                    (!chain.is_empty()).then_some(chain) == head.municipality_code
                        && r.get::<_, i64>(1) == head.seq
                        && r.get::<_, String>(13) == head.hash
                });
                if !found {
                    report.broken = Some(format!(
                        "event {} no longer has the hash a kept head names",
                        head.seq
                    ));
                }
            }
        }
        reports.sort_by(|a, b| a.municipality_code.cmp(&b.municipality_code));
        Ok(reports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding written out by hand from the rules in migration 0008.
    #[test]
    fn encoding_is_length_prefixed_with_null_marks() {
        let e = EventFields {
            chain: "0793".into(),
            seq: 12,
            occurred_at_micros: 1_700_000_000_123_456,
            subject: "system:import-cli:ann".into(),
            acting_municipality: None,
            rpc: "import".into(),
            action: "create".into(),
            entity_kind: "dataset_version".into(),
            entity_id: "7".into(),
            person_code: None,
            purpose: Some("õ".into()),
            details: "{}".into(),
            prev_hash: "ab".into(),
        };
        assert_eq!(
            String::from_utf8(encode(&e)).unwrap(),
            "4:0793,2:12,16:1700000000123456,21:system:import-cli:ann,~,6:import,6:create,\
             15:dataset_version,1:7,~,2:õ,2:{},2:ab,"
        );
    }

    #[test]
    fn heads_lines_round_trip() {
        let h = ChainHead {
            municipality_code: None,
            seq: 3,
            hash: "a".repeat(64),
        };
        assert_eq!(ChainHead::parse_line(&h.to_line()), Some(h));
        assert_eq!(ChainHead::parse_line("0793 x y"), None);
    }
}
