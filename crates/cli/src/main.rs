//! The `netdoctor` binary: argument parsing and wiring only. Everything it does lives in the
//! library crates (collect, bundle, checks, report).

mod agent;
mod args;
mod capture;
mod check;
mod demo;
mod explain;
mod fix;
mod fleet;
mod packet;
mod pcap;
mod probe;
mod progress;
mod schema;
mod trace;

use std::io::Write;
use std::process::ExitCode;

/// Diagnostics on standard error through `tracing`: RUST_LOG when set, else the level -v asks
/// for (warnings only without it). Colour only on a terminal, as --color says.
fn init_logging(verbose: u8, colour: args::ColorChoice) {
    use std::io::IsTerminal;
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let ansi = match colour {
        args::ColorChoice::Always => true,
        args::ColorChoice::Never => false,
        args::ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

fn main() -> ExitCode {
    // Installed as `kubectl-netdoctor`, it is the kubectl plugin `kubectl netdoctor`: say so in
    // usage lines and errors.
    let mut command = <args::Cli as clap::CommandFactory>::command();
    let invoked = std::env::args_os().next().map(std::path::PathBuf::from);
    if invoked
        .as_deref()
        .and_then(std::path::Path::file_name)
        .is_some_and(|n| n == "kubectl-netdoctor")
    {
        command = command.bin_name("kubectl netdoctor");
    }
    let cli = match <args::Cli as clap::FromArgMatches>::from_arg_matches(&command.get_matches()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // A typo in the time limit is an error before anything runs, never a silent default.
    if let Err(e) = netdoctor_collect::live::command_timeout_from_env() {
        let _ = writeln!(std::io::stderr(), "netdoctor: {e}");
        return ExitCode::from(2);
    }
    let colour = cli.color.stdout();
    init_logging(cli.verbose, cli.color);
    let result = match cli.command {
        args::Command::Check(a) => check::run_check(&a, colour),
        args::Command::Collect(a) => check::run_collect(&a),
        args::Command::Agent(a) => agent::run_agent(&a),
        args::Command::Fleet(a) => fleet::run_fleet(&a),
        args::Command::Pcap(a) => pcap::run_pcap(&a),
        args::Command::Probe(a) => probe::run_probe(&a, colour),
        args::Command::Capture(a) => capture::run_capture(&a, colour),
        args::Command::Schema { name } => schema::run_schema(&name),
        args::Command::Completions { shell } => {
            let mut cmd = <args::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "netdoctor", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        args::Command::Man => {
            let cmd = <args::Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            let r = clap_mangen::Man::new(cmd.clone())
                .render(&mut out)
                .and_then(|()| {
                    // Each subcommand's page follows the main one, as `git help` pages do.
                    for sub in cmd.get_subcommands() {
                        let bin = format!("netdoctor {}", sub.get_name());
                        clap_mangen::Man::new(sub.clone().bin_name(bin)).render(&mut out)?;
                    }
                    std::io::stdout().write_all(&out)
                });
            r.map(|()| ExitCode::SUCCESS).map_err(anyhow::Error::from)
        }
        args::Command::Fix(a) => fix::run_fix(&a),
        args::Command::Demo(a) => demo::run_demo(&a),
        args::Command::Trace(a) => trace::run_trace(&a),
        args::Command::Explain(a) => explain::run_explain(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`netdoctor check | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<serde_json::Error>()
                        .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
            }) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "netdoctor: {e:#}");
            ExitCode::from(2)
        }
    }
}
