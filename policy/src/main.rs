use clap::Parser;
use receipt_policy::cli::{Cli, run};

fn main() {
    std::process::exit(run(Cli::parse()));
}
