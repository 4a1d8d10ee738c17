//! The `xueji` command line: one file per subcommand under `cli/`; all work is the library's.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
