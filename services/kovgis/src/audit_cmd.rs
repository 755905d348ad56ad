//! `kovgis audit …`: checking the audit chains and exporting their heads.
//!
//! `verify` recomputes every chain (hashes in Rust, independently of the database trigger that
//! wrote them) and prints each chain's state and its first broken link; with `--heads FILE` it
//! also checks that the chains still reach the heads kept in that file. `heads` prints the newest
//! event of every chain as `<municipality or -> <seq> <sha256>` lines, for safekeeping outside the
//! database (print it regularly, keep it where the database's administrators cannot change it).
//! Both run as system callers with national reach, through the service role's row-level security.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use kovgis_store::audit_chain::ChainHead;
use kovgis_store::{Caller, Store};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every audit chain; exits with status 1 if any link is broken.
    Verify {
        /// Heads kept from an earlier `kovgis audit heads`: the chains must still reach them.
        #[arg(long)]
        heads: Option<PathBuf>,
    },
    /// Print the newest (municipality, seq, hash) of every chain.
    Heads,
}

pub async fn run(store: &Store, cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Heads => {
            for head in store.audit_heads(&Caller::system("audit-heads")).await? {
                println!("{}", head.to_line());
            }
        }
        AuditCommand::Verify { heads } => {
            let kept = match heads {
                None => Vec::new(),
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let mut kept = Vec::new();
                    for (i, line) in text.lines().enumerate() {
                        if line.trim().is_empty() {
                            continue;
                        }
                        kept.push(ChainHead::parse_line(line).with_context(|| {
                            format!(
                                "{} line {}: not `<municipality|-> <seq> <sha256>`",
                                path.display(),
                                i + 1
                            )
                        })?);
                    }
                    kept
                }
            };
            let reports = store
                .verify_audit(&Caller::system("audit-verify"), &kept)
                .await?;
            let mut broken = 0;
            for r in &reports {
                let chain = r.municipality_code.as_deref().unwrap_or("national");
                match &r.broken {
                    None => println!("{chain}: {} events, intact", r.events),
                    Some(why) => {
                        broken += 1;
                        println!("{chain}: {} events, BROKEN: {why}", r.events);
                    }
                }
            }
            if broken > 0 {
                bail!("{broken} audit chain(s) broken");
            }
        }
    }
    Ok(())
}
