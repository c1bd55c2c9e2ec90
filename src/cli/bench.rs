//! `meishi bench …`: placeholder, written next.
use crate::domain::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Time a transfer of N cards against hand-written SQL doing the same work
    Transfer {
        /// Database URL (a fresh file or database is best)
        #[arg(long, default_value = "sqlite://meishi-bench.db")]
        database: String,
        /// Number of cards the leaving user owns
        #[arg(long, default_value_t = 100_000)]
        cards: usize,
    },
}

pub async fn run(_c: BenchCommand) -> Result<()> {
    Ok(())
}
