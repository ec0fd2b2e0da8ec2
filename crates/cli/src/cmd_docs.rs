//! `hitstream completions SHELL` and `hitstream man`: the shell completions and the manual
//! pages, made from the command line's own definition so they cannot drift from it. The
//! Debian package ships both (`scripts/package` runs these commands on the built binary).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

/// Options of `hitstream completions`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Install them for one user, for example:
  hitstream completions bash > ~/.local/share/bash-completion/completions/hitstream
  hitstream completions zsh > ~/.zfunc/_hitstream     (with fpath+=~/.zfunc in ~/.zshrc)
  hitstream completions fish > ~/.config/fish/completions/hitstream.fish
The Debian package installs them for every user.")]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Options of `hitstream man`.
#[derive(Debug, Clone, clap::Args)]
pub struct ManArgs {
    /// The page of this command (`hitstream man ship` is the page hitstream-ship(1));
    /// without it, the page of `hitstream` itself.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
    /// Write every page (hitstream.1 and one hitstream-COMMAND.1 per command) into this
    /// directory instead, creating it when missing.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub dir: Option<PathBuf>,
}

/// The command line as clap knows it, with the names the pages and completions use.
fn command() -> clap::Command {
    let mut cmd = with_version(crate::Cli::command()).disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Every command's page names the version in its title; only `hitstream` itself takes
/// `--version`.
fn with_version(cmd: clap::Command) -> clap::Command {
    cmd.mut_subcommands(|sub| {
        with_version(
            sub.version(env!("CARGO_PKG_VERSION"))
                .disable_version_flag(true),
        )
    })
}

/// Runs `hitstream completions`.
pub fn completions(a: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "hitstream", &mut out);
    write_stdout(&out)
}

/// Runs `hitstream man`.
pub fn man(a: ManArgs) -> anyhow::Result<()> {
    let cmd = command();
    if let Some(dir) = &a.dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
        clap_mangen::generate_to(cmd, dir)
            .with_context(|| format!("cannot write the pages into `{}`", dir.display()))?;
        return Ok(());
    }
    let page = match &a.command {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
                return Err(crate::usage::error(format!(
                    "no command `{name}`; the commands are {}",
                    names.join(", ")
                )));
            }
        },
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        // `hitstream man | head` closes the pipe early: not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to stdout"),
    }
}
