//! `hitstream gen` (placeholder until the generator lands).

/// Options of `hitstream gen`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {}

/// Runs `hitstream gen`.
pub fn run(_args: GenArgs) -> anyhow::Result<()> {
    Ok(())
}
