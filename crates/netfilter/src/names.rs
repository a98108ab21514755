//! The chain-name index of a table: its hash and its keys.

use crate::text::Text;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// The hash of the chain-name index: a multiply-rotate hash (the idea of rustc's FxHash),
/// several times faster than SipHash on the 20-30 byte names kube-proxy writes, and a parse
/// does one lookup per rule. It is not keyed: a dump crafted to collide its chain names can
/// slow the parse down, never change its result.
#[derive(Default, Clone, Copy)]
pub struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// [`NameHasher`] for a `HashMap`.
pub type NameHash = BuildHasherDefault<NameHasher>;

/// A key of the chain-name index. Names of up to 28 bytes (every iptables chain name: the
/// kernel's limit) are stored in the key itself, so that a lookup reads one hash bucket rather
/// than following a pointer into the dump: with 40k chains, those cache misses were a quarter
/// of a large dump's parse.
#[derive(Clone)]
pub(crate) enum ChainKey {
    Short { len: u8, bytes: [u8; 28] },
    Long(Text),
}

impl ChainKey {
    pub(crate) fn new(name: &Text) -> Self {
        ChainKey::short(name).unwrap_or_else(|| ChainKey::Long(name.clone()))
    }

    /// The key of `name` when it fits in the key itself (every iptables chain name does).
    pub(crate) fn short(name: &str) -> Option<Self> {
        let b = name.as_bytes();
        (b.len() <= 28).then(|| {
            let mut bytes = [0u8; 28];
            bytes[..b.len()].copy_from_slice(b);
            ChainKey::Short {
                len: b.len() as u8,
                bytes,
            }
        })
    }

    /// The name's bytes (looked up as bytes: no UTF-8 check on every comparison).
    fn as_bytes(&self) -> &[u8] {
        match self {
            ChainKey::Short { len, bytes } => &bytes[..usize::from(*len)],
            ChainKey::Long(t) => t.as_bytes(),
        }
    }
}

impl std::borrow::Borrow<[u8]> for ChainKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::hash::Hash for ChainKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialEq for ChainKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ChainKey {}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}
