use clap::Parser;
use receipt_policy::cli::{Cli, run};
use receipt_policy::verdict::EXIT_INTERNAL;

fn main() {
    // Last resort: a panic is a bug in policy-check, never the user's fault. Say
    // so on one line (the message escaped: it may quote input) and exit with the
    // documented code instead of Rust's 101 and a backtrace hint.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "policy-check: internal error (a bug, not your input's fault): {}{place}; \
             please report it at https://github.com/bitnet/receipt-action/issues with the command you ran",
            message.escape_debug()
        );
        std::process::exit(EXIT_INTERNAL);
    }));
    std::process::exit(run(Cli::parse()));
}
