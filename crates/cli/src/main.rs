//! The `hitstream` binary: turns web-server access logs into traffic analytics.

mod cmd_gen;

use clap::{Parser, Subcommand};

/// Web-server access logs into live and historical traffic analytics.
#[derive(Debug, Parser)]
#[command(name = "hitstream", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate realistic synthetic access logs.
    Gen(cmd_gen::GenArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Gen(a) => cmd_gen::run(a),
    }
}
