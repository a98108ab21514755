//! Pretty JSON written in pieces: the same bytes as `serde_json::to_writer_pretty`, but a
//! long array's elements are serialised on every core.
//!
//! `explain -o json` of a 10k-Service dump is 10 MB of JSON, and serialising it on one core was
//! a sixth of the command. Objects are written field by field ([`PrettyObject`]); each value is
//! serialised by serde with serde_json's pretty layout started at the value's depth. A test
//! (`explain -o json`'s, in the CLI) holds the output equal to serde_json's own.

use rayon::prelude::*;
use serde::Serialize;
use std::io::{self, Write};

/// `value` as pretty JSON, indented as a value `depth` levels deep (its first line is not
/// indented: it follows a key or an array's indentation).
fn pretty_at<T: Serialize + ?Sized>(value: &T, depth: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Nested::at(depth));
    value.serialize(&mut ser)?;
    Ok(out)
}

/// Two spaces a level, `depth` levels.
fn indent<W: ?Sized + Write>(w: &mut W, depth: usize) -> io::Result<()> {
    const SPACES: &[u8] = &[b' '; 64];
    let mut n = depth * 2;
    while n > 0 {
        let k = n.min(SPACES.len());
        w.write_all(&SPACES[..k])?;
        n -= k;
    }
    Ok(())
}

/// serde_json's pretty layout (two spaces a level, `": "` after a key, empty arrays and
/// objects as `[]` and `{}`), starting `depth` levels deep instead of at the top.
struct Nested {
    depth: usize,
    has_value: bool,
}

impl Nested {
    fn at(depth: usize) -> Self {
        Nested {
            depth,
            has_value: false,
        }
    }

    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            w.write_all(b"\n")?;
            indent(w, self.depth)?;
        }
        w.write_all(bracket)
    }

    fn item<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        indent(w, self.depth)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// A JSON object being written, `depth` levels deep, one field at a time.
pub struct PrettyObject<'w> {
    w: &'w mut dyn Write,
    depth: usize,
    fields: usize,
}

impl<'w> PrettyObject<'w> {
    /// Start an object (`{`) at `depth` (0: the document itself).
    pub fn start(w: &'w mut dyn Write, depth: usize) -> io::Result<Self> {
        w.write_all(b"{")?;
        Ok(PrettyObject {
            w,
            depth,
            fields: 0,
        })
    }

    fn key(&mut self, key: &str) -> io::Result<()> {
        self.w
            .write_all(if self.fields == 0 { b"\n" } else { b",\n" })?;
        self.fields += 1;
        indent(self.w, self.depth + 1)?;
        serde_json::to_writer(&mut *self.w, key)?;
        self.w.write_all(b": ")
    }

    /// A field serialised by serde.
    pub fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> io::Result<()> {
        self.key(key)?;
        let v = pretty_at(value, self.depth + 1)?;
        self.w.write_all(&v)
    }

    /// A field whose value is an array, its elements serialised on every core a few hundred
    /// at a time, and written in order.
    pub fn array_field<T: Serialize + Sync>(&mut self, key: &str, items: &[T]) -> io::Result<()> {
        self.key(key)?;
        if items.is_empty() {
            return self.w.write_all(b"[]");
        }
        let depth = self.depth + 2;
        self.w.write_all(b"[")?;
        // Batches bound what is held at once; each batch is cut into pieces for the cores.
        for (b, batch) in items.chunks(4096).enumerate() {
            let pieces: Vec<io::Result<Vec<u8>>> = batch
                .par_chunks(256)
                .enumerate()
                .map(|(p, piece)| {
                    let mut out = Vec::with_capacity(piece.len() * 1024);
                    for (i, item) in piece.iter().enumerate() {
                        let first = b == 0 && p == 0 && i == 0;
                        out.extend_from_slice(if first { b"\n" } else { b",\n" });
                        indent(&mut out, depth)?;
                        let mut ser =
                            serde_json::Serializer::with_formatter(&mut out, Nested::at(depth));
                        item.serialize(&mut ser)?;
                    }
                    Ok(out)
                })
                .collect();
            for piece in pieces {
                self.w.write_all(&piece?)?;
            }
        }
        self.w.write_all(b"\n")?;
        indent(self.w, self.depth + 1)?;
        self.w.write_all(b"]")
    }

    /// A field whose value the caller writes, given the writer and the value's depth (for a
    /// nested [`PrettyObject`]).
    pub fn nested_field(
        &mut self,
        key: &str,
        write: impl FnOnce(&mut dyn Write, usize) -> io::Result<()>,
    ) -> io::Result<()> {
        self.key(key)?;
        write(&mut *self.w, self.depth + 1)
    }

    /// Close the object (`}`).
    pub fn end(self) -> io::Result<()> {
        if self.fields > 0 {
            self.w.write_all(b"\n")?;
            indent(self.w, self.depth)?;
        }
        self.w.write_all(b"}")
    }
}
