//! `aiops`: parse the command line (clap exits 2 on usage errors), run it, exit with its code.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = aiops_cli::cli::Cli::parse();
    ExitCode::from(aiops_cli::run(cli).await)
}
