//! boundscheck-elision: decides which explicit linear-memory bounds checks a
//! function can skip because an earlier check, or the module's declared
//! minimum memory size, already proves the access in bounds.
//!
//! The translator asks [`CheckCache::access`] before emitting the
//! compare-and-trap of `--bounds explicit`; it knows nothing of Cranelift or
//! wasmparser, only of opaque keys: a *base* (the SSA value holding the wasm
//! address, e.g. one `local.get` result) and a *scope* (the basic block the
//! access is emitted in). Guard-page mode needs none of this: there are no
//! checks to remove.
//!
//! Rules, each sound on its own:
//! 1. **Constant address**: a constant `addr` with `addr + offset + size <=
//!    minimum memory size` is in bounds. Linear memory never shrinks, and an
//!    imported memory is at least as large as its declared minimum.
//! 2. **Same base, covered end**: in one basic block, once `base + end1` was
//!    checked, an access `base + end2` with `end2 <= end1` is in bounds. The
//!    earlier check dominates (same block, straight-line code; a trap leaves
//!    the block). Calls and `memory.grow` in between do not invalidate it:
//!    memory can only grow (wasm has no shrinking operation, shared memories
//!    included), so a range that was in bounds stays in bounds.
//!
//! 3. **Dominating check** ([`dominated`]): over a whole function, a check
//!    is redundant when another check of the same base with an equal or
//!    larger end dominates it (runs first on every path to it). Same
//!    argument as rule 2, across blocks; the caller supplies dominance.
//!
//! Induction variables with known bounds are not analysed (yet).
//!
//! If you need guard pages or a full range analysis, see wasmtime's
//! `cranelift-wasm` heap code instead.

use std::collections::HashMap;
use std::hash::Hash;

/// What the caller must do for one access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Emit the check.
    Check,
    /// Proven in bounds; the reason is reported in statistics and tests.
    Elide(Rule),
}

/// Which rule proved an access in bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    ConstantBelowMinimum,
    CoveredBySameBase,
}

/// Per-function state: checks seen in the current scope.
#[derive(Debug)]
pub struct CheckCache<Base, Scope> {
    min_memory_bytes: u64,
    scope: Option<Scope>,
    /// Largest `offset + size` checked for each base in `scope`.
    checked: HashMap<Base, u64>,
    elided: usize,
    kept: usize,
}

impl<Base: Copy + Eq + Hash, Scope: Copy + Eq> CheckCache<Base, Scope> {
    /// `min_memory_bytes`: the memory's declared minimum (pages * 64 KiB).
    pub fn new(min_memory_bytes: u64) -> Self {
        CheckCache {
            min_memory_bytes,
            scope: None,
            checked: HashMap::new(),
            elided: 0,
            kept: 0,
        }
    }

    /// An access of `end = offset + size` bytes past `base` (whose value is
    /// `constant` when known) in `scope`. Records the check when one is
    /// needed, so later accesses can rely on it.
    pub fn access(
        &mut self,
        scope: Scope,
        base: Base,
        constant: Option<u64>,
        end: u64,
    ) -> Decision {
        if self.scope != Some(scope) {
            self.scope = Some(scope);
            self.checked.clear();
        }
        if let Some(addr) = constant {
            if addr
                .checked_add(end)
                .is_some_and(|last| last <= self.min_memory_bytes)
            {
                self.elided += 1;
                return Decision::Elide(Rule::ConstantBelowMinimum);
            }
        }
        match self.checked.get_mut(&base) {
            Some(done) if *done >= end => {
                self.elided += 1;
                Decision::Elide(Rule::CoveredBySameBase)
            }
            Some(done) => {
                *done = end;
                self.kept += 1;
                Decision::Check
            }
            None => {
                self.checked.insert(base, end);
                self.kept += 1;
                Decision::Check
            }
        }
    }

    /// Checks removed so far.
    pub fn elided(&self) -> usize {
        self.elided
    }

    /// Checks kept so far.
    pub fn kept(&self) -> usize {
        self.kept
    }
}

/// One explicit check of a function, for [`dominated`].
#[derive(Clone, Copy, Debug)]
pub struct Site<Base> {
    pub base: Base,
    /// `offset + size` past the base.
    pub end: u64,
}

/// Largest group of same-base checks compared pairwise (the rest are kept).
const MAX_GROUP: usize = 512;

/// Rule 3: the indices of `sites` whose check is redundant because another
/// site with the same base and an equal or larger end dominates it.
/// `dominates(i, j)` must be true only when site `i`'s check runs before
/// site `j`'s on every path to `j`. A redundant site may itself justify
/// others: dominance is transitive and its own dominator's end is larger.
pub fn dominated<Base: Copy + Eq + Hash>(
    sites: &[Site<Base>],
    mut dominates: impl FnMut(usize, usize) -> bool,
) -> Vec<usize> {
    let mut groups: HashMap<Base, Vec<usize>> = HashMap::new();
    for (i, s) in sites.iter().enumerate() {
        let group = groups.entry(s.base).or_default();
        if group.len() < MAX_GROUP {
            group.push(i);
        }
    }
    let mut out = Vec::new();
    for group in groups.values().filter(|g| g.len() > 1) {
        for &j in group {
            if group
                .iter()
                .any(|&i| i != j && sites[i].end >= sites[j].end && dominates(i, j))
            {
                out.push(j);
            }
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 65536;

    #[test]
    fn constant_below_minimum() {
        let mut c = CheckCache::<u32, u32>::new(PAGE);
        assert_eq!(
            c.access(0, 1, Some(PAGE - 8), 8),
            Decision::Elide(Rule::ConstantBelowMinimum)
        );
        // One byte past the minimum: checked.
        assert_eq!(c.access(0, 2, Some(PAGE - 8), 9), Decision::Check);
        // Overflowing constant never elides.
        assert_eq!(c.access(0, 3, Some(u64::MAX), 4), Decision::Check);
        // No memory declared: nothing constant is provable.
        let mut none = CheckCache::<u32, u32>::new(0);
        assert_eq!(none.access(0, 1, Some(0), 1), Decision::Check);
    }

    #[test]
    fn same_base_smaller_end() {
        let mut c = CheckCache::<u32, u32>::new(0);
        assert_eq!(c.access(0, 7, None, 8), Decision::Check);
        assert_eq!(
            c.access(0, 7, None, 4),
            Decision::Elide(Rule::CoveredBySameBase)
        );
        assert_eq!(
            c.access(0, 7, None, 8),
            Decision::Elide(Rule::CoveredBySameBase)
        );
        // Larger end: checked again, and then covers up to 12.
        assert_eq!(c.access(0, 7, None, 12), Decision::Check);
        assert_eq!(
            c.access(0, 7, None, 10),
            Decision::Elide(Rule::CoveredBySameBase)
        );
        // Other base: checked.
        assert_eq!(c.access(0, 8, None, 1), Decision::Check);
        assert_eq!((c.elided(), c.kept()), (3, 3));
    }

    #[test]
    fn dominating_check_covers() {
        let site = |base, end| Site { base, end };
        // 0 dominates 1 and 2; 1 does not dominate 3.
        let sites = [site(1, 8), site(1, 4), site(1, 12), site(1, 2), site(2, 1)];
        let dom = |i: usize, j: usize| matches!((i, j), (0, 1) | (0, 2) | (0, 3) | (1, 2));
        // 1 (end 4) is covered by 0 (end 8); 2 (end 12) is not covered by
        // anyone dominating it; 3 (end 2) is covered by 0.
        assert_eq!(dominated(&sites, dom), vec![1, 3]);
        // Without dominance nothing goes.
        assert!(dominated(&sites, |_, _| false).is_empty());
    }

    #[test]
    fn new_scope_forgets() {
        let mut c = CheckCache::<u32, u32>::new(0);
        assert_eq!(c.access(0, 7, None, 8), Decision::Check);
        assert_eq!(c.access(1, 7, None, 4), Decision::Check);
        // Back to scope 0 (a different visit): still forgotten.
        assert_eq!(c.access(0, 7, None, 4), Decision::Check);
    }
}
