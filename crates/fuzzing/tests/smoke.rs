//! Every fuzz target, on stable and in CI: its kept corpus (`fuzz/corpus/<target>/`, grown by
//! libFuzzer runs), then deterministic mutations of it (bytes flipped, inserted and cut, lines
//! repeated, pieces of other inputs spliced in, tokens the readers care about inserted). A
//! panic or a broken invariant fails the test and names the target and the input's seed.
//!
//! `NETDOCTOR_FUZZ_ITERATIONS` sets the mutations per target (default 300).

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|it| it.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// xorshift64*: the same mutations on every run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"\0",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"[...]",
    b"... 120 lines truncated ...",
    b"$ ",
    b"[root@node ~]# ",
    b"# ",
    b"-A FORWARD ",
    b"*filter\n",
    b"COMMIT\n",
    b" via ",
    b" dev ",
    b"10.244.0.0/16",
    b"fe80::1/64",
    b"255.255.255.0",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b": ",
    b" = ",
    b"\t",
    b"mtu 1450",
    b"4294967295",
    b"99999999999999999999",
    b"-1",
    b"```\n",
    b"  ",
];

fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            2 if !v.is_empty() => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at..end);
            }
            3 if !v.is_empty() => {
                // Repeat a piece (a line pasted twice, a run of brackets).
                let end = (at + rng.below(80)).min(v.len());
                let piece = v[at..end].to_vec();
                for _ in 0..rng.below(8) {
                    v.splice(at..at, piece.iter().copied());
                }
            }
            4 if !others.is_empty() => {
                let o = &others[rng.below(others.len())];
                let s = rng.below(o.len() + 1);
                let e = (s + rng.below(200)).min(o.len());
                v.splice(at..at, o[s..e].iter().copied());
            }
            5 => v.truncate(at),
            _ => {
                let b = rng.next() as u8;
                v.insert(at, b);
            }
        }
    }
    v
}

#[test]
fn every_target_keeps_its_invariants_on_its_corpus_and_mutations() {
    let iterations: usize = std::env::var("NETDOCTOR_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut empty = Vec::new();
    for t in netdoctor_fuzzing::TARGETS {
        let seeds = corpus(t.name);
        if seeds.is_empty() {
            empty.push(t.name);
            continue;
        }
        for (i, s) in seeds.iter().enumerate() {
            let r = std::panic::catch_unwind(|| (t.run)(s));
            assert!(r.is_ok(), "{}: corpus input {i} broke it", t.name);
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ t.name.len() as u64);
        for n in 0..iterations {
            let base = &seeds[rng.below(seeds.len())];
            let input = mutate(&mut rng, base, &seeds);
            let r = std::panic::catch_unwind(|| (t.run)(&input));
            if r.is_err() {
                let dump = std::env::temp_dir().join(format!("netdoctor-fuzz-{}-{n}", t.name));
                let _ = std::fs::write(&dump, &input);
                panic!(
                    "{}: mutation {n} broke it; input saved in {} (replay: cargo +nightly fuzz run {} that-file)",
                    t.name,
                    dump.display(),
                    t.name
                );
            }
        }
    }
    assert!(empty.is_empty(), "targets without a corpus: {empty:?}");
}

#[test]
fn every_target_has_a_libfuzzer_entry_point() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    for t in netdoctor_fuzzing::TARGETS {
        let p = dir.join(format!("{}.rs", t.name));
        let text = std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e} (run sh fuzz/gen-targets.sh)", p.display()));
        assert!(
            text.contains(&format!("run(\"{}\"", t.name)),
            "{} does not run its target",
            p.display()
        );
    }
}
