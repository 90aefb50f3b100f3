//! `switchboard`: one chat server, five wire dialects.
//!
//! ```text
//! switchboard [serve] [--config PATH]
//! switchboard user create|list|ban|unban|reset-password ...
//! switchboard v0 issue-key <username>
//! switchboard federation key
//! switchboard backup <file> [--token TOKEN]
//! switchboard restore <file> [--force]
//! switchboard check-config
//! ```

mod admin;
mod cli;
mod config;
mod door;
mod federation_http;
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
    about = "One chat server, five wire dialects",
    long_about = "One chat server, five wire dialects (JAM, OriginChats, chat-network, V0, \
                  SYNRC/NYNJA CHAT) sharing one world.\n\nEvery config key can be overridden \
                  with an environment variable SWITCHBOARD_<TABLE>_<KEY>, e.g. \
                  SWITCHBOARD_LIMITS_MESSAGE_LENGTH=100."
)]
struct Cli {
    /// The configuration file; relative paths inside it resolve from the
    /// working directory. SWITCHBOARD_<TABLE>_<KEY> variables override it.
    #[arg(long, global = true, default_value = "config.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every configured listener (the default).
    Serve,
    /// Account administration: create, list, ban, unban, reset-password.
    /// With the server stopped it works on the store; while the server runs,
    /// through its admin endpoint (a ban or a password reset then also
    /// closes the account's live connections).
    User {
        #[command(subcommand)]
        command: UserCommand,
        #[command(flatten)]
        admin: cli::admin_client::AdminArgs,
    },
    /// V0 dialect tools.
    #[command(subcommand)]
    V0(V0Command),
    /// Federation tools.
    #[command(subcommand)]
    Federation(FederationCommand),
    /// Write a consistent snapshot of the whole store to one file. Works
    /// while the server runs (through its admin endpoint) and while it is
    /// stopped (directly).
    Backup {
        /// The backup file to write (replaced if it exists).
        file: PathBuf,
        #[command(flatten)]
        admin: cli::admin_client::AdminArgs,
    },
    /// Restore a backup into the configured data directory, which must be
    /// empty or missing. The file is verified before anything is written.
    /// Run it with the server stopped.
    Restore {
        /// The backup file to read.
        file: PathBuf,
        /// Replace a data directory that is not empty.
        #[arg(long)]
        force: bool,
    },
    /// Load and validate the configuration (with environment overrides)
    /// and print the effective listeners; exit status 1 on an error.
    CheckConfig,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account (in the default guild). The password is read from
    /// the first line of stdin.
    Create {
        /// The account's username.
        name: String,
        /// Display name (default: the username).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List every account: id, name, creation time, banned.
    List,
    /// Ban an account server-wide: it cannot log in or use its tokens in
    /// any dialect, and is logged out everywhere.
    Ban {
        /// The account's username.
        name: String,
    },
    /// Lift a server-wide ban.
    Unban {
        /// The account's username.
        name: String,
    },
    /// Set a new password, read from the first line of stdin, and log the
    /// account out everywhere.
    ResetPassword {
        /// The account's username.
        name: String,
    },
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

/// Big buffers (an Argon2id hash's 19 MiB, upload spools) are mapped for
/// themselves and unmapped when freed. glibc starts that way but raises its
/// threshold after the first such free, and from then on keeps freed big
/// buffers in the arena of the thread that used them: bursts of logins
/// left the server hundreds of MiB larger, never to shrink. A fixed
/// threshold turns that adjustment off.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_big_frees_to_the_system() {
    // SAFETY: mallopt only sets an allocator parameter; it is called once,
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_big_frees_to_the_system() {}

/// Everything the server writes (the store, keys, spooled uploads,
/// backups) holds other people's conversations: files are created 0600 and
/// directories 0700, whatever umask the operator's shell left.
#[cfg(unix)]
fn private_files() {
    // SAFETY: umask only sets this process's file-creation mask; it is
    // called once, before any other thread exists.
    unsafe {
        libc::umask(0o077);
    }
}

#[cfg(not(unix))]
fn private_files() {}

fn main() -> ExitCode {
    return_big_frees_to_the_system();
    private_files();
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::CheckConfig)) {
        return match config::Config::load(&cli.config) {
            Ok(c) => {
                println!("{}", cli::check_config(&cli.config, &c));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("switchboard: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match config::Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::V0(V0Command::IssueKey { username }) => {
            print_line(cli::offline::v0_issue_key(&config, &username))
        }
        Command::Federation(FederationCommand::Key) => {
            print_line(cli::offline::federation_key(&config))
        }
        Command::User { command, admin } => {
            let users = cli::users::Users::new(&config, &admin);
            print_line(match command {
                UserCommand::Create { name, display_name } => {
                    users.create(&name, display_name.as_deref())
                }
                UserCommand::List => users.list(),
                UserCommand::Ban { name } => users.set_banned(&name, true),
                UserCommand::Unban { name } => users.set_banned(&name, false),
                UserCommand::ResetPassword { name } => users.reset_password(&name),
            })
        }
        Command::Backup { file, admin } => print_line(cli::backup::backup(&config, &file, &admin)),
        Command::Restore { file, force } => print_line(cli::backup::restore(&config, &file, force)),
        Command::CheckConfig => ExitCode::SUCCESS,
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
