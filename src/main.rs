//! `switchboard`: one chat server, five wire dialects.
//!
//! ```text
//! switchboard [serve] [--config PATH]
//! switchboard v0 issue-key <username> [--config PATH]
//! switchboard federation key [--config PATH]
//! ```

mod admin;
mod config;
mod door;
mod federation_http;
mod offline;
mod originchats_http;
mod rest;
mod server;
mod upgrade;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "One chat server, five wire dialects"
)]
struct Cli {
    /// The configuration file; relative paths inside it resolve from the
    /// working directory.
    #[arg(long, global = true, default_value = "config.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every configured listener (the default).
    Serve,
    /// V0 dialect tools.
    #[command(subcommand)]
    V0(V0Command),
    /// Federation tools.
    #[command(subcommand)]
    Federation(FederationCommand),
}

#[derive(Subcommand)]
enum FederationCommand {
    /// Print this server's federation public key (base64 of the raw 32
    /// bytes), creating the key pair on first use. Run it with the server
    /// stopped.
    Key,
}

#[derive(Subcommand)]
enum V0Command {
    /// Issue (or replace) an account's V0 secret and print it once, as
    /// `{"acc_id","secret"}`. Run it with the server stopped.
    IssueKey {
        /// The account's username.
        username: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match config::Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::V0(V0Command::IssueKey { username }) => {
            print_line(offline::v0_issue_key(&config, &username))
        }
        Command::Federation(FederationCommand::Key) => print_line(offline::federation_key(&config)),
        Command::Serve => {
            if let Err(e) = server::init_logging(&config) {
                eprintln!("switchboard: {e}");
                return ExitCode::from(2);
            }
            let system = actix_rt::System::new();
            match system.block_on(server::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("switchboard: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Prints a tool's one line of output, or its error.
fn print_line(result: anyhow::Result<String>) -> ExitCode {
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}
