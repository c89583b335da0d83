//! Ids (agent ids, job-task names) as keys of the hot maps and ordered sets.
//!
//! With 100,000 agents the dispatcher is bound by memory latency: following an `Arc<str>` to
//! hash, compare or clone an id costs a cache miss. [`MapId`] keeps short ids inline.

use std::cmp::Ordering;
use std::sync::Arc;

/// An id stored inline when short (up to 22 bytes, which covers the usual agent ids and
/// job-task names), else shared on the heap. Hash-map look-ups and ordered-set comparisons then
/// read bytes that are already in the bucket or node instead of following a pointer.
///
/// It hashes like the `str` it holds (so maps keyed by it are queried with `&str`), and orders
/// like it (lexicographic by UTF-8 bytes).
#[derive(Clone, Debug)]
pub enum MapId {
    Inline { len: u8, buf: [u8; 22] },
    Heap(Arc<str>),
}

impl MapId {
    pub fn new(id: &str) -> Self {
        if id.len() <= 22 {
            let mut buf = [0u8; 22];
            buf[..id.len()].copy_from_slice(id.as_bytes());
            MapId::Inline {
                len: id.len() as u8,
                buf,
            }
        } else {
            MapId::Heap(Arc::from(id))
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            MapId::Inline { len, buf } => &buf[..*len as usize],
            MapId::Heap(s) => s.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // SAFETY: the inline bytes were copied whole from a `&str` in `new`.
            MapId::Inline { len, buf } => unsafe {
                std::str::from_utf8_unchecked(&buf[..*len as usize])
            },
            MapId::Heap(s) => s,
        }
    }
}

impl std::ops::Deref for MapId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for MapId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl std::hash::Hash for MapId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq for MapId {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (MapId::Inline { len: a, buf: x }, MapId::Inline { len: b, buf: y }) => {
                a == b && x == y
            }
            _ => self.as_bytes() == other.as_bytes(),
        }
    }
}

impl Eq for MapId {}

impl PartialOrd for MapId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MapId {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            // Zero-padded arrays compare like the strings unless they are equal, in which case
            // the strings differ at most by trailing NULs and the shorter is the smaller.
            (MapId::Inline { len: a, buf: x }, MapId::Inline { len: b, buf: y }) => {
                let hi = |buf: &[u8; 22]| u128::from_be_bytes(buf[..16].try_into().expect("16"));
                let lo = |buf: &[u8; 22]| {
                    let mut w = [0u8; 8];
                    w[..6].copy_from_slice(&buf[16..]);
                    u64::from_be_bytes(w)
                };
                (hi(x), lo(x), a).cmp(&(hi(y), lo(y), b))
            }
            _ => self.as_bytes().cmp(other.as_bytes()),
        }
    }
}

#[cfg(test)]
mod map_id_tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn short_and_long_ids_are_found_by_str() {
        let mut m: HashMap<MapId, u32> = HashMap::new();
        let (short, long) = ("agent000123", "0123456789abcdef0123456789-long");
        m.insert(MapId::new(short), 1);
        m.insert(MapId::new(long), 2);
        assert!(matches!(MapId::new(short), MapId::Inline { .. }));
        assert_eq!(
            (m.get("agent000123"), m.get(long), m.get("x")),
            (Some(&1), Some(&2), None)
        );
    }

    #[test]
    fn orders_exactly_like_the_strings() {
        let words = [
            "",
            "a",
            "a\0",
            "a\0\0",
            "ab",
            "abc",
            "b",
            "agent000123",
            "agent000124",
            "0123456789abcdef",
            "0123456789abcdef0",
            "0123456789abcdef\0",
            "0123456789abcdeg",
            "0123456789abcdefghijkl",
            "0123456789abcdefghijkm",
            "0123456789abcdefghijkl0",
            "0123456789abcdefghijk",
            "é",
            "z",
            "0123456789abcdefzz",
            "0123456789abcdefz",
        ];
        for a in words {
            for b in words {
                let (x, y) = (MapId::new(a), MapId::new(b));
                assert_eq!(x.cmp(&y), a.as_bytes().cmp(b.as_bytes()), "{a:?} vs {b:?}");
                assert_eq!(x == y, a == b);
                assert_eq!(x.as_str(), a);
            }
        }
    }
}
