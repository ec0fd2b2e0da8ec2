//! The `hitstream` binary: turns web-server access logs into traffic analytics.

mod cmd_analyze;
mod cmd_demo;
mod cmd_gen;
mod cmd_replay;
mod cmd_report;
mod cmd_run;
mod cmd_serve;
mod cmd_ship;
mod cmd_sql;
mod config;
mod console;
mod fds;
mod geoip;
mod input;
mod load;
mod output;
mod pipeline;
mod tui;

use clap::{Parser, Subcommand};

/// Web-server access logs into live and historical traffic analytics.
#[derive(Debug, Parser)]
#[command(name = "hitstream", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest arguments does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// One-shot report over log files or stdin: the full analysis set as tables, JSON, CSV or HTML.
    Analyze(cmd_analyze::AnalyzeArgs),
    /// The long-running pipeline: sources, event-time windows and alerts, live outputs.
    Run(cmd_run::RunArgs),
    /// Ship a source into a Kafka topic (positions advance only after delivery).
    Ship(cmd_ship::ShipArgs),
    /// A complete local pipeline on generated traffic: windows and alerts as they happen.
    Demo(cmd_demo::DemoArgs),
    /// Send a real log to stdout or a TCP address at its original pacing, sped up.
    Replay(cmd_replay::ReplayArgs),
    /// Generate realistic synthetic access logs.
    Gen(cmd_gen::GenArgs),
    /// SQL over the lake's tables (requests, windows, alerts, rejects, reports).
    Sql(cmd_sql::SqlArgs),
    /// Reports computed from the lake (`report daily`, `report range`).
    Report(cmd_report::ReportArgs),
    /// The web dashboard, JSON API and metrics over a lake, without a pipeline.
    Serve(cmd_serve::ServeArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    hitstream_lake::hide_writer_abort_panics();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Errors can quote a line, a path or a query: cleaned for the terminal.
            eprintln!("error: {}", output::clean(&error_text(&e)));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The chain of an error on one line, each cause once. Errors that print their source in
/// their own message (DataFusion's and the lake's do) would otherwise repeat it at every level.
fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        // One line: DataFusion breaks its messages ("... named nope.\nValid fields ...").
        let msg = cause
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let msg = msg.as_str();
        if msg.is_empty() || out.contains(msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(msg);
    }
    out
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Analyze(a) => cmd_analyze::run(a),
        Command::Run(a) => cmd_run::run(a),
        Command::Demo(a) => cmd_demo::run(a),
        Command::Ship(a) => cmd_ship::run(a),
        Command::Replay(a) => cmd_replay::run(a),
        Command::Gen(a) => cmd_gen::run(a),
        Command::Serve(a) => cmd_serve::run(a),
        Command::Sql(a) => cmd_sql::run(a),
        Command::Report(a) => cmd_report::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[derive(Debug, thiserror::Error)]
    #[error("No field named nope. Valid fields are a, b.")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("Schema error: {0}")]
    struct Outer(#[source] Inner);

    #[test]
    fn each_cause_is_printed_once() {
        let e = anyhow::Error::new(Outer(Inner)).context("query failed");
        assert_eq!(
            error_text(&e),
            "query failed: Schema error: No field named nope. Valid fields are a, b."
        );
        let plain = anyhow::anyhow!("a").context("b");
        assert_eq!(error_text(&plain), "b: a");
    }
}
