//! The `emailgator` binary: parse the command line, load the configuration, start telemetry, dispatch.

use clap::Parser;
use emailgator::cli::{self, Cli};
use emailgator::config::Config;
use emailgator::telemetry;

fn main() -> std::process::ExitCode {
    emailgator::startup::install_tls_provider();
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(problems) => {
            eprintln!("{problems}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(&config.log);
    // Lives until the process ends, so events still queued are sent on the way out.
    let _error_reporting = telemetry::init_error_reporting(&config);
    match cli::run(cli, config) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("emailgator: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
