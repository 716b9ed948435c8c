//! Native embedding throughput: `cargo run --release -p lode-embed --example throughput -- SENTENCES_FILE`
//! (one sentence per line). Prints sentences/s at batch 1 and batch 32, single-threaded.

use std::time::Instant;

use lode_embed::Embedder;

fn main() -> anyhow::Result<()> {
    let file = std::env::args()
        .nth(1)
        .expect("usage: throughput SENTENCES_FILE [MODEL_DIR]");
    let models = std::env::args().nth(2).unwrap_or_else(|| "models".into());
    let text = std::fs::read_to_string(file)?;
    let sentences: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = Instant::now();
    let embedder = Embedder::load_dir(std::path::Path::new(&models))?;
    println!(
        "native  model load+optimise      {:>8.0} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    embedder.embed(&sentences[..1])?; // warm
    for batch in [1usize, 8, 32] {
        let start = Instant::now();
        for group in sentences.chunks(batch) {
            embedder.embed(group)?;
        }
        let rate = sentences.len() as f64 / start.elapsed().as_secs_f64();
        println!("native  batch {batch:<2} throughput        {rate:>8.1} sentences/s");
    }
    Ok(())
}
