//! The `hitstream` binary: turns web-server access logs into traffic analytics.

#[cfg(feature = "full")]
mod cmd_analyze;
#[cfg(feature = "full")]
mod cmd_demo;
mod cmd_docs;
#[cfg(feature = "full")]
mod cmd_gen;
#[cfg(feature = "full")]
mod cmd_replay;
#[cfg(feature = "full")]
mod cmd_report;
#[cfg(feature = "full")]
mod cmd_run;
#[cfg(feature = "full")]
mod cmd_serve;
#[cfg(feature = "shipper")]
mod cmd_ship;
#[cfg(feature = "full")]
mod cmd_sql;
#[cfg(feature = "full")]
mod cmd_validate;
#[cfg(feature = "full")]
mod config;
#[cfg(feature = "full")]
mod console;
#[cfg(feature = "shipper")]
mod fds;
#[cfg(feature = "full")]
mod geoip;
#[cfg(feature = "full")]
mod input;
#[cfg(feature = "full")]
mod load;
#[cfg(feature = "shipper")]
mod net;
#[cfg(feature = "full")]
mod output;
#[cfg(feature = "full")]
mod pipeline;
#[cfg(feature = "shipper")]
mod ship_config;
#[cfg(feature = "shipper")]
mod state;
mod text;
mod toml_error;
#[cfg(feature = "full")]
mod trust;
#[cfg(feature = "full")]
mod tui;
mod usage;
mod verbosity;

use clap::{Parser, Subcommand};

/// Web-server access logs into live and historical traffic analytics.
#[derive(Debug, Parser)]
#[command(name = "hitstream", version, about, long_about = None)]
struct Cli {
    /// Say nothing on stderr but errors and warnings: no detected format, progress, "state
    /// lives at" or end-of-run summary.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Say more on stderr (details of what is read and set up); -q wins over it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest arguments does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    #[cfg(feature = "full")]
    /// One-shot report over log files or stdin: the full analysis set as tables, JSON, CSV or HTML.
    Analyze(cmd_analyze::AnalyzeArgs),
    #[cfg(feature = "full")]
    /// The long-running pipeline: sources, event-time windows and alerts, live outputs.
    Run(cmd_run::RunArgs),
    #[cfg(feature = "shipper")]
    /// Ship a source into a Kafka topic (positions advance only after delivery).
    Ship(cmd_ship::ShipArgs),
    #[cfg(feature = "full")]
    /// A complete local pipeline on generated traffic: windows and alerts as they happen.
    Demo(cmd_demo::DemoArgs),
    #[cfg(feature = "full")]
    /// Send a real log to stdout or a TCP address at its original pacing, sped up.
    Replay(cmd_replay::ReplayArgs),
    #[cfg(feature = "full")]
    /// Generate realistic synthetic access logs.
    Gen(cmd_gen::GenArgs),
    #[cfg(feature = "full")]
    /// SQL over the lake's tables (requests, windows, alerts, rejects, reports).
    Sql(cmd_sql::SqlArgs),
    #[cfg(feature = "full")]
    /// Reports computed from the lake (`report daily`, `report range`).
    Report(cmd_report::ReportArgs),
    #[cfg(feature = "full")]
    /// The web dashboard, JSON API and metrics over a lake, without a pipeline.
    Serve(cmd_serve::ServeArgs),
    #[cfg(feature = "full")]
    /// Check a `run` configuration file, its sources and its sinks without running it.
    Validate(cmd_validate::ValidateArgs),
    /// Print the shell completions for SHELL on stdout (bash, zsh, fish, elvish, powershell).
    Completions(cmd_docs::CompletionsArgs),
    /// Print the manual page (roff) on stdout, or write one page per command into a directory.
    Man(cmd_docs::ManArgs),
}

fn main() -> std::process::ExitCode {
    // The matches stay for `ship --config`: a flag given on the command line wins over the
    // file, a flag's default does not.
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli =
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    verbosity::set_from_flags(cli.quiet, cli.verbose);
    #[cfg(feature = "full")]
    hitstream_lake::hide_writer_abort_panics();
    match run(cli, &matches) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Errors can quote a line, a path or a query: cleaned for the terminal.
            eprintln!("error: {}", text::clean(&error_text(&e)));
            // What the user typed cannot run: 2, as clap's own usage errors.
            if usage::is_usage(&e) {
                std::process::ExitCode::from(2)
            } else {
                std::process::ExitCode::FAILURE
            }
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

fn run(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    match cli.command {
        #[cfg(feature = "full")]
        Command::Analyze(a) => cmd_analyze::run(a),
        #[cfg(feature = "full")]
        Command::Run(a) => cmd_run::run(a),
        #[cfg(feature = "full")]
        Command::Demo(a) => cmd_demo::run(a),
        #[cfg(feature = "shipper")]
        Command::Ship(a) => {
            cmd_ship::run(ship_config::resolve(a, matches.subcommand_matches("ship"))?)
        }
        #[cfg(feature = "full")]
        Command::Replay(a) => cmd_replay::run(a),
        #[cfg(feature = "full")]
        Command::Gen(a) => cmd_gen::run(a),
        #[cfg(feature = "full")]
        Command::Serve(a) => cmd_serve::run(a),
        #[cfg(feature = "full")]
        Command::Sql(a) => cmd_sql::run(a),
        #[cfg(feature = "full")]
        Command::Report(a) => cmd_report::run(a),
        #[cfg(feature = "full")]
        Command::Validate(a) => cmd_validate::run(a),
        Command::Completions(a) => cmd_docs::completions(a),
        Command::Man(a) => cmd_docs::man(a),
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
