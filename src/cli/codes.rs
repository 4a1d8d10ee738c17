//! `xueji codes`: the problem-code catalogue and the recognised fields.

use xueji::problems::{markdown_table, CATALOGUE};
use xueji::schema::FIELDS;

/// Lists the problem codes, or the fields and the headers recognised for them.
#[derive(clap::Args)]
pub struct Args {
    /// Print the catalogue as a Markdown table.
    #[arg(long)]
    markdown: bool,
    /// List the canonical fields and the headers recognised for each instead.
    #[arg(long, conflicts_with = "markdown")]
    fields: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.fields {
        for field in FIELDS {
            println!("{:<18} {} {}", field.name, field.zh, field.aliases.join(" "));
        }
    } else if args.markdown {
        print!("{}", markdown_table());
    } else {
        for kind in CATALOGUE {
            println!(
                "{:<28} {:<8} {:<12} {}  {}",
                kind.code.as_str(),
                kind.severity.as_str(),
                kind.field,
                kind.zh,
                kind.en
            );
        }
    }
    Ok(())
}
