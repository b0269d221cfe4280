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
//! 4. **Bounded address** ([`Range`], [`induction_range`]): an address
//!    whose value range, worked out from constants, `add`/`shl`/`mul`/`and`/
//!    `shr` without wrap-around, and loop induction variables, ends below
//!    the minimum memory size with the access's `end` added. An induction
//!    variable is a loop-header value whose incoming values are either
//!    initial values of known range or `i + step` (a positive constant)
//!    passed only when a compare of `i + step` (or of `i`) with a constant
//!    bound holds (`<`, `<=`, `==`, or `!=` with step 1 from below): by
//!    induction over the iterations it stays in `[lowest initial value,
//!    max(highest initial value, bound)]`. This covers `for (i = 0; i < N;
//!    i++) a[i]` over a static array. A bound that is not a constant,
//!    decreasing loops and wrapping arithmetic are not analysed.
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

/// Rule 4: the values a wasm `i32` may take, `lo..=hi` as unsigned
/// numbers (`hi < 2^32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub lo: u64,
    pub hi: u64,
}

const U32_MAX: u64 = u32::MAX as u64;
const I32_MAX: u64 = i32::MAX as u64;

impl Range {
    pub fn constant(c: u32) -> Range {
        Range {
            lo: u64::from(c),
            hi: u64::from(c),
        }
    }

    fn checked(lo: u64, hi: u64) -> Option<Range> {
        (hi <= U32_MAX).then_some(Range { lo, hi })
    }

    /// `a + b` when it cannot wrap.
    pub fn plus(self, other: Range) -> Option<Range> {
        Range::checked(self.lo + other.lo, self.hi + other.hi)
    }

    /// `a << s` (`s` already reduced modulo 32) when no bit leaves.
    pub fn shifted(self, s: u32) -> Option<Range> {
        Range::checked(self.lo << s, self.hi << s)
    }

    /// `a * c` when it cannot wrap.
    pub fn times(self, c: u32) -> Option<Range> {
        let c = u64::from(c);
        Range::checked(self.lo * c, self.hi.checked_mul(c)?)
    }

    /// `a & m`: never above `m`, whatever `a` is.
    pub fn and_mask(a: Option<Range>, m: u32) -> Range {
        let m = u64::from(m);
        Range {
            lo: 0,
            hi: a.map_or(m, |a| a.hi.min(m)),
        }
    }

    /// `a >> s` (logical, `s` reduced modulo 32).
    pub fn ushr(a: Option<Range>, s: u32) -> Range {
        let a = a.unwrap_or(Range { lo: 0, hi: U32_MAX });
        Range {
            lo: a.lo >> s,
            hi: a.hi >> s,
        }
    }

    /// Any value of `bits` bits (a zero-extending 8- or 16-bit load, a
    /// zero-extended compare).
    pub fn bits(bits: u32) -> Range {
        Range {
            lo: 0,
            hi: (1u64 << bits.min(32)) - 1,
        }
    }

    /// `a % c` (unsigned): below `c`, and never above `a`. `None` for
    /// `c == 0`, which traps.
    pub fn urem(a: Option<Range>, c: u32) -> Option<Range> {
        let limit = u64::from(c).checked_sub(1)?;
        Some(Range {
            lo: 0,
            hi: a.map_or(limit, |a| a.hi.min(limit)),
        })
    }

    /// `a / c` (unsigned). `None` for `c == 0`, which traps.
    pub fn udiv(a: Option<Range>, c: u32) -> Option<Range> {
        let c = u64::from(c);
        if c == 0 {
            return None;
        }
        let a = a.unwrap_or(Range { lo: 0, hi: U32_MAX });
        Some(Range {
            lo: a.lo / c,
            hi: a.hi / c,
        })
    }

    pub fn union(self, other: Range) -> Range {
        Range {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }

    /// Whether an access of `end` bytes (offset + size) at any address of
    /// the range stays below `min_memory_bytes`.
    pub fn in_bounds(self, end: u64, min_memory_bytes: u64) -> bool {
        self.hi + end <= min_memory_bytes
    }
}

/// The compare that lets an induction variable's increment reach the loop
/// header, as it holds on that edge (`value <cmp> bound`, bound constant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Ult,
    Ule,
    Slt,
    Sle,
    Eq,
    Ne,
}

/// One `i + step` edge into the loop header of an induction variable `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Increment {
    /// The constant added (as a wasm `i32`).
    pub step: u64,
    /// The edge is taken only when `value <cmp> bound` holds.
    pub cmp: Cmp,
    pub bound: u64,
    /// `value` is `i + step` (true) or `i` before the increment (false).
    pub on_next: bool,
}

/// Rule 4: the range of an induction variable whose other incoming values
/// are `inits`. `None` when an increment is not provably bounded or may
/// wrap around.
///
/// Proof sketch: let `hi` be the largest of the initial values and of each
/// edge's bound on the value it passes. Every value the variable takes is
/// in `[lo, hi]`: initial ones by definition; if `i` is, `i + step` does
/// not wrap (`hi + step` fits) and is at least `lo`, and the edge passes
/// it only when its compare holds, which keeps it at most `hi`.
pub fn induction_range(inits: &[Range], incs: &[Increment]) -> Option<Range> {
    let mut range = inits.iter().copied().reduce(Range::union)?;
    let mut signed = false;
    // An edge whose compare never holds contributes nothing (a negative
    // signed bound holds for no value below 2^31, checked below).
    for inc in incs {
        if inc.step == 0 || inc.step > I32_MAX {
            return None;
        }
        // The largest value the compare lets through, or `None` if none.
        let passed = match inc.cmp {
            Cmp::Ult => inc.bound.checked_sub(1),
            Cmp::Ule | Cmp::Eq => Some(inc.bound),
            Cmp::Slt | Cmp::Sle if inc.bound > I32_MAX => None,
            Cmp::Slt => inc.bound.checked_sub(1),
            Cmp::Sle => Some(inc.bound),
            // `!= N` stops a value counting up from below at N when it
            // cannot step over N: by one, or by a step every value stays
            // congruent to N modulo (`for (i = 0; i != 256; i += 4)`).
            Cmp::Ne if inc.bound >= inc.step && lands_on_bound(inits, incs, inc) => {
                Some(inc.bound - inc.step)
            }
            Cmp::Ne => return None,
        };
        signed |= matches!(inc.cmp, Cmp::Slt | Cmp::Sle);
        let Some(passed) = passed else { continue };
        let next_max = if inc.on_next {
            passed
        } else {
            passed + inc.step
        };
        range.hi = range.hi.max(next_max);
    }
    // Signed compares read the values as unsigned only below 2^31.
    let limit = if signed { I32_MAX } else { U32_MAX };
    for inc in incs {
        if range.hi + inc.step > limit {
            return None;
        }
        // `!= N` bounds only a value that cannot jump over N: the compared
        // value must be at most N before the compare.
        let compared_max = if inc.on_next {
            range.hi + inc.step
        } else {
            range.hi
        };
        if inc.cmp == Cmp::Ne && compared_max > inc.bound {
            return None;
        }
    }
    Some(range)
}

/// Whether every value an induction variable takes is congruent to `inc`'s
/// bound modulo its step: constant starts that are, and increments that
/// are multiples of the step. A step of one always is.
fn lands_on_bound(inits: &[Range], incs: &[Increment], inc: &Increment) -> bool {
    let step = inc.step;
    step == 1
        || (inits
            .iter()
            .all(|r| r.lo == r.hi && r.lo % step == inc.bound % step)
            && incs.iter().all(|i| i.step % step == 0))
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

    fn r(lo: u64, hi: u64) -> Range {
        Range { lo, hi }
    }

    fn inc(step: u64, cmp: Cmp, bound: u64, on_next: bool) -> Increment {
        Increment {
            step,
            cmp,
            bound,
            on_next,
        }
    }

    #[test]
    fn range_arithmetic() {
        let i = r(0, 15);
        assert_eq!(i.shifted(2), Some(r(0, 60)));
        assert_eq!(i.times(8), Some(r(0, 120)));
        assert_eq!(i.plus(Range::constant(1024)), Some(r(1024, 1039)));
        // Wrap-around is never assumed away.
        assert_eq!(r(0, U32_MAX).plus(Range::constant(1)), None);
        assert_eq!(r(0, 1 << 31).shifted(1), None);
        assert_eq!(r(0, U32_MAX).times(2), None);
        assert_eq!(Range::and_mask(None, 63), r(0, 63));
        assert_eq!(Range::and_mask(Some(r(0, 7)), 63), r(0, 7));
        assert_eq!(Range::ushr(None, 28), r(0, 15));
        assert_eq!(Range::bits(8), r(0, 255));
        assert_eq!(Range::bits(16), r(0, 65535));
        assert_eq!(Range::bits(32), r(0, U32_MAX));
        assert_eq!(Range::urem(None, 4096), Some(r(0, 4095)));
        assert_eq!(Range::urem(Some(r(0, 9)), 4096), Some(r(0, 9)));
        assert_eq!(Range::urem(None, 0), None);
        assert_eq!(Range::udiv(None, 16), Some(r(0, U32_MAX / 16)));
        assert_eq!(Range::udiv(Some(r(32, 100)), 16), Some(r(2, 6)));
        assert_eq!(Range::udiv(None, 0), None);
        assert!(r(0, 65532).in_bounds(4, PAGE));
        assert!(!r(0, 65533).in_bounds(4, PAGE));
    }

    #[test]
    fn counting_loops() {
        let zero = [Range::constant(0)];
        // for (i = 0; i + 1 < 16; ) i++  /  for (i = 0; i < 16; i++)
        assert_eq!(
            induction_range(&zero, &[inc(1, Cmp::Ult, 16, true)]),
            Some(r(0, 15))
        );
        // do { ... } while (i++ < 16): the header sees up to 16.
        assert_eq!(
            induction_range(&zero, &[inc(1, Cmp::Ult, 16, false)]),
            Some(r(0, 16))
        );
        assert_eq!(
            induction_range(&zero, &[inc(4, Cmp::Ule, 64, true)]),
            Some(r(0, 64))
        );
        assert_eq!(
            induction_range(&zero, &[inc(1, Cmp::Slt, 100, true)]),
            Some(r(0, 99))
        );
        // An initial value above the bound: the loop body still sees it.
        assert_eq!(
            induction_range(&[Range::constant(40)], &[inc(1, Cmp::Ult, 16, true)]),
            Some(r(40, 40))
        );
        // Two increments (a `continue`): the larger bound wins.
        assert_eq!(
            induction_range(
                &zero,
                &[inc(1, Cmp::Ult, 8, true), inc(2, Cmp::Ult, 10, true)]
            ),
            Some(r(0, 9))
        );
    }

    #[test]
    fn unbounded_loops() {
        let zero = [Range::constant(0)];
        // `!=` with a start above the bound runs through the wrap-around.
        assert_eq!(
            induction_range(&[Range::constant(20)], &[inc(1, Cmp::Ne, 16, true)]),
            None
        );
        assert_eq!(
            induction_range(&zero, &[inc(1, Cmp::Ne, 16, true)]),
            Some(r(0, 15))
        );
        // `!=` with a step that can jump over the bound.
        assert_eq!(induction_range(&zero, &[inc(2, Cmp::Ne, 15, true)]), None);
        assert_eq!(
            induction_range(&[Range::constant(2)], &[inc(4, Cmp::Ne, 256, true)]),
            None
        );
        assert_eq!(
            induction_range(&[r(0, 4)], &[inc(4, Cmp::Ne, 256, true)]),
            None
        );
        assert_eq!(
            induction_range(
                &zero,
                &[inc(4, Cmp::Ne, 256, true), inc(2, Cmp::Ult, 100, true)]
            ),
            None
        );
        // ... and one that lands on it: SHA-256's `for (i = 0; i != 256; i += 4)`.
        assert_eq!(
            induction_range(&zero, &[inc(4, Cmp::Ne, 256, true)]),
            Some(r(0, 252))
        );
        assert_eq!(
            induction_range(&zero, &[inc(4, Cmp::Ne, 256, false)]),
            Some(r(0, 256))
        );
        assert_eq!(induction_range(&zero, &[inc(4, Cmp::Ne, 2, true)]), None);
        // A bound near 2^32 lets `i + step` wrap.
        assert_eq!(
            induction_range(&zero, &[inc(8, Cmp::Ult, U32_MAX - 2, true)]),
            None
        );
        // Signed: a bound of 2^31 or more is negative, which no value
        // below 2^31 passes: the loop body runs once.
        assert_eq!(
            induction_range(&zero, &[inc(1, Cmp::Slt, 1 << 31, true)]),
            Some(r(0, 0))
        );
        // ... unless the values can reach 2^31 through another edge.
        assert_eq!(
            induction_range(
                &zero,
                &[
                    inc(1, Cmp::Slt, 1 << 31, true),
                    inc(1, Cmp::Ult, 1 << 31, true)
                ]
            ),
            None
        );
        // Decrements (a step of -1 as i32) are not analysed.
        assert_eq!(
            induction_range(&zero, &[inc(U32_MAX, Cmp::Ult, 16, true)]),
            None
        );
        // No initial value known: nothing.
        assert_eq!(induction_range(&[], &[inc(1, Cmp::Ult, 16, true)]), None);
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
