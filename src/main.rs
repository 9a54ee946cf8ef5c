use clap::Parser;

fn main() -> std::process::ExitCode {
    bailiwick::cli::run(bailiwick::cli::Cli::parse())
}
