//! Prints what `lode_extract::extract` makes of a file:
//! `cargo run --release -p lode-extract --example extract -- FILE [MEDIA_TYPE] [PASSWORD]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: extract FILE [MEDIA_TYPE] [PASSWORD]");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("{path}: {err}");
            std::process::exit(1);
        }
    };
    let media_type = args
        .next()
        .or_else(|| lode_extract::guess_media_type(Some(&path), &bytes).map(str::to_string))
        .unwrap_or_else(|| "text/plain".to_string());
    let opts = lode_extract::Options {
        password: args.next(),
        ..lode_extract::Options::default()
    };
    match lode_extract::extract(&bytes, &media_type, &opts) {
        Ok(out) => {
            println!("{}", out.markdown);
            eprintln!("title: {:?}", out.title);
            eprintln!("author: {:?}", out.author);
            eprintln!("language: {:?}", out.language);
            eprintln!("pages: {:?}", out.pages);
            for warning in &out.warnings {
                eprintln!("warning: {warning}");
            }
        }
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(1);
        }
    }
}
