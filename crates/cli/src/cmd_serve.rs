//! `hitstream serve`: the dashboard, JSON API and metrics over a lake, without a pipeline.

use anyhow::Context;

use crate::cmd_run::HttpArgs;
use crate::config::HttpConfig;

/// Options of `hitstream serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Data directory or URL of the lake to serve. [default: $STATE_DIRECTORY/lake,
    /// $XDG_DATA_HOME/hitstream/lake or ~/.local/share/hitstream/lake; when that does not
    /// exist and /var/lib/hitstream/lake (the service's) does, that one]
    #[arg(long, value_name = "DIR")]
    pub data: Option<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Runs `hitstream serve` until Ctrl-C or SIGTERM.
pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    let mut h = HttpConfig {
        listen: Some("127.0.0.1:8080".into()),
        ..HttpConfig::default()
    };
    a.http.apply(&mut h);
    // What was typed (address, token, limits) is checked first: a usage error.
    h.server_unopened(None).map_err(crate::usage::mark)?;
    let data = crate::state::lake_for_reading(a.data.as_deref())?;
    crate::cmd_sql::open_existing(&data)?;
    let cfg = h.server(Some(&data))?.expect("an address is set");
    let server = hitstream_server::Server::start(&cfg, hitstream_server::Live::none())
        .context("the dashboard")?;
    crate::verbosity::info!(
        "dashboard: {} (the lake at {}); Ctrl-C to stop",
        server.url(),
        data
    );
    let (tx, rx) = crossbeam_channel::bounded::<()>(1);
    ctrlc::set_handler(move || {
        let _ = tx.try_send(());
    })
    .context("installing the SIGINT/SIGTERM handler")?;
    let _ = rx.recv();
    server.stop();
    Ok(())
}
