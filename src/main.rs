//! The `xueji` command line: one file per subcommand under `cli/`; all work is the library's.

mod cli;

// A damaged file asking for exabytes gets an error naming it, not a bare abort.
#[global_allocator]
static ALLOCATOR: xueji::ingest::guard::BoundedAllocator = xueji::ingest::guard::BoundedAllocator;

fn main() -> std::process::ExitCode {
    xueji::progress::map_large_blocks();
    cli::main()
}
