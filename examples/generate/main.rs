//! Writes synthetic data for benchmarks: a catalogue of N zones and a data
//! folder with their filled forms for a period and the December of every
//! earlier plan year (see `synth.rs` for what varies). Not part of the tool.
//!
//! ```sh
//! cargo run --release --example generate -- --zones 1000 --seed 7 --period 2020-06 --out /tmp/zs1000
//! zonestat --catalogue /tmp/zs1000/plan.toml consolidate /tmp/zs1000/data --period 2020-06
//! ```

mod synth;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use zonestat::model::Period;

#[derive(Parser)]
#[command(about = "Writes a catalogue of N zones and their filled forms (test data)")]
struct Args {
    /// Number of zones.
    #[arg(long, default_value_t = 5)]
    zones: usize,
    /// Seed: the same seed gives the same files, byte for byte.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The run's period; the December folders of the plan years before it are written too.
    #[arg(long, default_value = "2020-06")]
    period: Period,
    /// Output folder: plan.toml and data/YYYY-MM/.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let spec = synth::Spec {
        zones: args.zones,
        seed: args.seed,
        period: args.period,
    };
    match synth::generate(&spec, &args.out) {
        Ok(w) => {
            let folders: Vec<String> = w.folders.iter().map(Period::to_string).collect();
            println!(
                "{} workbooks ({:.1} MB) and {} other files in {} ({}); catalogue {}",
                w.workbooks,
                w.bytes as f64 / 1e6,
                w.other_files,
                w.data.display(),
                folders.join(", "),
                w.catalogue.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("generate: {e}");
            ExitCode::from(2)
        }
    }
}
