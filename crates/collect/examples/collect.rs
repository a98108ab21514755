//! Print this network namespace's snapshot as JSON on stdout, until `netdoctor collect`
//! exists. Usage: `collect [ROOT]`.

use netdoctor_collect::live::{collect_live, LiveOptions};
use std::io::Write;

fn main() {
    let mut opts = LiveOptions::default();
    if let Some(root) = std::env::args_os().nth(1) {
        opts.root = root.into();
    }
    let snapshot = collect_live(&opts);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if let Err(e) = serde_json::to_writer(&mut out, &snapshot)
        .and_then(|()| writeln!(out).map_err(serde_json::Error::io))
    {
        eprintln!("collect: cannot write the snapshot: {e}");
        std::process::exit(2);
    }
    if let Err(e) = out.flush() {
        eprintln!("collect: cannot write the snapshot: {e}");
        std::process::exit(2);
    }
}
