//! [`Text`]: a string that is usually a piece of the dump it was read from.
//!
//! A kube-proxy dump of 10k services is 110k rules and 15 MiB. Every rule keeps its original
//! line (a diagnosis quotes the rule, not our rendering of it), its comment and the chain it
//! jumps to; copying each of those into its own allocation made the parsed rule set several
//! times the size of the dump and spent most of the parse in `malloc`. A `Text` instead points
//! into the one shared copy of the dump: an `Arc` and a byte range, 16 bytes, no allocation.
//! Strings that are not in the dump (an unescaped comment, names built by hand or from nft
//! JSON) get a shared buffer of their own, so there is one type with one behaviour.

use serde::{Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// An immutable string, usually a slice of a shared source text. It behaves as a `str`:
/// it derefs to one, compares, hashes and serialises as one.
#[derive(Clone)]
pub struct Text {
    src: Arc<String>,
    start: u32,
    len: u32,
}

impl Text {
    /// A text of its own.
    pub fn new(s: impl Into<String>) -> Self {
        let s: String = s.into();
        match u32::try_from(s.len()) {
            Ok(len) => Text {
                src: Arc::new(s),
                start: 0,
                len,
            },
            // Longer than 4 GiB: keep the first 4 GiB rather than fail (never happens with
            // rule text, which is bounded by a line).
            Err(_) => {
                let mut s = s;
                let mut cut = u32::MAX as usize;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                let len = u32::try_from(cut).unwrap_or(0);
                Text {
                    src: Arc::new(s),
                    start: 0,
                    len,
                }
            }
        }
    }

    /// `part` as a slice of `src` when it is one (no copy), else a copy.
    pub fn slice_of(src: &Arc<String>, part: &str) -> Self {
        let base = src.as_ptr() as usize;
        let at = part.as_ptr() as usize;
        if at >= base && at + part.len() <= base + src.len() {
            if let (Ok(start), Ok(len)) = (u32::try_from(at - base), u32::try_from(part.len())) {
                return Text {
                    src: Arc::clone(src),
                    start,
                    len,
                };
            }
        }
        Text::new(part)
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        let start = self.start as usize;
        self.src
            .get(start..start + self.len as usize)
            .unwrap_or_default()
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::new(String::new())
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::new(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::new(s)
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::new(s.as_str())
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.as_str().to_string()
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_slice_shares_the_source_and_anything_else_is_copied() {
        let src = Arc::new("-A INPUT -j DROP".to_string());
        let chain = Text::slice_of(&src, &src[3..8]);
        assert_eq!(chain, "INPUT");
        assert_eq!(
            Arc::strong_count(&src),
            2,
            "no copy: the slice holds the source"
        );
        let other = Text::slice_of(&src, "INPUT");
        assert_eq!(other, chain);
        assert_eq!(Arc::strong_count(&src), 2, "a foreign str is copied");
    }

    #[test]
    fn looks_up_as_a_str() {
        let mut m: HashMap<Text, u32> = HashMap::new();
        m.insert(Text::new("KUBE-SERVICES"), 1);
        assert_eq!(m.get("KUBE-SERVICES"), Some(&1));
        assert_eq!(format!("{}", Text::new("a b")), "a b");
        assert_eq!(
            serde_json::to_string(&Text::new("x")).ok().as_deref(),
            Some("\"x\"")
        );
    }

    #[test]
    fn is_small() {
        assert_eq!(std::mem::size_of::<Text>(), 16);
        assert_eq!(std::mem::size_of::<Option<Text>>(), 16);
    }
}

/// A list that is nearly always empty, in one pointer (8 bytes, no allocation while empty)
/// rather than a `Vec`'s 24: [`crate::Rule::also`] and [`crate::Chain::unreadable`] exist
/// on every rule and chain of a 100k-rule dump and are empty on almost all.
#[derive(Clone, PartialEq)]
// The box is the point: one pointer on every rule instead of a `Vec`'s three words.
#[allow(clippy::box_collection)]
pub struct Sparse<T>(Option<Box<Vec<T>>>);

impl<T> Sparse<T> {
    pub fn new() -> Self {
        Sparse(None)
    }

    pub fn push(&mut self, v: T) {
        self.0.get_or_insert_with(Default::default).push(v);
    }

    pub fn clear(&mut self) {
        self.0 = None;
    }
}

impl<T> Default for Sparse<T> {
    fn default() -> Self {
        Sparse(None)
    }
}

impl<T> Deref for Sparse<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl<T> From<Vec<T>> for Sparse<T> {
    fn from(v: Vec<T>) -> Self {
        if v.is_empty() {
            Sparse(None)
        } else {
            Sparse(Some(Box::new(v)))
        }
    }
}

impl<'a, T> IntoIterator for &'a Sparse<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: fmt::Debug> fmt::Debug for Sparse<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Serialize> Serialize for Sparse<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<T: PartialEq> PartialEq<Vec<T>> for Sparse<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        **self == **other
    }
}
