//! A sorted set laid out for few cache misses at the sizes the dispatcher sees.
//!
//! The pool's available set of a job-task and the allocator's per-job indexes hold tens to a few
//! hundred keys. Up to [`SMALL_MAX`] keys a [`SortedSet`] is a sorted ring buffer (`VecDeque`):
//! the first key pops from the front, a key larger than every other (an agent back from a call,
//! with the newest `idle_since_ms`) is appended at the back, and any other insertion or removal
//! is a binary search plus a move of the shorter side of contiguous memory (at most
//! `SMALL_MAX / 2` keys), which touches fewer cache lines than walking and rebalancing B-tree
//! nodes. Past [`SMALL_MAX`] it becomes a B-tree (O(log k) at any size), and a ring buffer again
//! below `SMALL_MAX / 2` (the gap keeps a set near the threshold from switching back and forth).

use std::collections::{BTreeSet, VecDeque};

/// The size up to which a [`SortedSet`] is a sorted ring buffer.
pub const SMALL_MAX: usize = 256;

/// A set of `K` in ascending order (see the module documentation).
#[derive(Debug)]
pub enum SortedSet<K: Ord> {
    Small(VecDeque<K>),
    Large(BTreeSet<K>),
}

impl<K: Ord> Default for SortedSet<K> {
    fn default() -> Self {
        SortedSet::Small(VecDeque::new())
    }
}

impl<K: Ord> SortedSet<K> {
    pub fn len(&self) -> usize {
        match self {
            SortedSet::Small(v) => v.len(),
            SortedSet::Large(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        *self = SortedSet::default();
    }

    /// The smallest key.
    pub fn first(&self) -> Option<&K> {
        match self {
            SortedSet::Small(v) => v.front(),
            SortedSet::Large(b) => b.first(),
        }
    }

    /// Adds `key`; returns whether it was not there.
    pub fn insert(&mut self, key: K) -> bool {
        match self {
            SortedSet::Small(v) => {
                let at = if v.back().is_none_or(|last| *last < key) {
                    v.len()
                } else {
                    match v.binary_search(&key) {
                        Ok(_) => return false,
                        Err(i) => i,
                    }
                };
                if v.len() < SMALL_MAX {
                    v.insert(at, key);
                } else {
                    let mut b: BTreeSet<K> = std::mem::take(v).into_iter().collect();
                    b.insert(key);
                    *self = SortedSet::Large(b);
                }
                true
            }
            SortedSet::Large(b) => b.insert(key),
        }
    }

    /// Removes `key`; returns whether it was there.
    pub fn remove(&mut self, key: &K) -> bool {
        match self {
            SortedSet::Small(v) => match v.binary_search(key) {
                Ok(i) => {
                    v.remove(i);
                    true
                }
                Err(_) => false,
            },
            SortedSet::Large(b) => {
                let found = b.remove(key);
                self.shrink();
                found
            }
        }
    }

    /// Takes the smallest key out.
    pub fn pop_first(&mut self) -> Option<K> {
        match self {
            SortedSet::Small(v) => v.pop_front(),
            SortedSet::Large(b) => {
                let first = b.pop_first();
                self.shrink();
                first
            }
        }
    }

    /// A B-tree below half of [`SMALL_MAX`] goes back to a ring buffer.
    fn shrink(&mut self) {
        if let SortedSet::Large(b) = self {
            if b.len() < SMALL_MAX / 2 {
                *self = SortedSet::Small(std::mem::take(b).into_iter().collect());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_like_a_btree_across_its_two_forms() {
        let mut model = BTreeSet::new();
        let mut set = SortedSet::default();
        let mut x: u64 = 7;
        let mut next = |n: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            (x >> 33) % n
        };
        let mut was_large = false;
        for step in 0..20_000 {
            // Grow past SMALL_MAX, then shrink below half of it, and again.
            let grow = (step / 2_500) % 2 == 0;
            match next(10) {
                0..=5 if grow => {
                    let k = (next(5), next(50), next(2_000));
                    assert_eq!(set.insert(k), model.insert(k));
                }
                0..=2 => {
                    let k = (next(5), next(50), next(2_000));
                    assert_eq!(set.remove(&k), model.remove(&k));
                }
                _ => assert_eq!(set.pop_first(), model.pop_first()),
            }
            assert_eq!(set.len(), model.len());
            assert_eq!(set.first(), model.first());
            was_large |= matches!(set, SortedSet::Large(_));
        }
        assert!(was_large, "the test reached the B-tree form");
        while let Some(k) = model.pop_first() {
            assert_eq!(set.pop_first(), Some(k));
        }
        assert!(set.is_empty());
    }
}
