//! Per-runtime allocator: enforces the memory limit itself, records the peak, and refuses to
//! allocate once the execution's deadline has passed.
//!
//! The deadline check is the backstop for native builtins that loop without ever polling the
//! interrupt handler (e.g. `Array.prototype.join` over many huge BigInts): as soon as such a loop
//! allocates after the deadline it fails with an out-of-memory exception and unwinds.
//!
//! QuickJS also gets `JS_SetMemoryLimit` (slightly above ours) as a second fence, but only this
//! allocator can tell *that* an allocation was refused, which is how an out-of-memory error is
//! classified reliably even when QuickJS surfaces it as a thrown `null`.

use std::alloc::{self, Layout};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Instant;

use rquickjs::allocator::Allocator;

/// Alignment of every block (QuickJS needs 8; 16 matches glibc malloc).
const ALIGN: usize = 16;
/// Size header in front of every block; a multiple of `ALIGN` so the payload stays aligned.
const HEADER: usize = 16;

/// The clock is read once per this many allocations.
const DEADLINE_CHECK_EVERY: u32 = 32;

/// Counters shared between the allocator (owned by the runtime) and the executor.
#[derive(Debug)]
pub(crate) struct AllocStats {
    limit: usize,
    deadline: Instant,
    current: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicBool,
    expired: AtomicBool,
    tick: AtomicU32,
}

impl AllocStats {
    pub(crate) fn new(limit: usize, deadline: Instant) -> Arc<Self> {
        Arc::new(Self {
            limit,
            deadline,
            current: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refused: AtomicBool::new(false),
            expired: AtomicBool::new(false),
            tick: AtomicU32::new(0),
        })
    }

    /// Whether an allocation was refused because the deadline had passed.
    pub(crate) fn expired(&self) -> bool {
        self.expired.load(Ordering::Relaxed)
    }

    fn past_deadline(&self) -> bool {
        if self.expired.load(Ordering::Relaxed) {
            return true;
        }
        let tick = self.tick.load(Ordering::Relaxed).wrapping_add(1);
        self.tick.store(tick, Ordering::Relaxed);
        if tick.is_multiple_of(DEADLINE_CHECK_EVERY) && Instant::now() >= self.deadline {
            self.expired.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Highest number of bytes held at once.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Whether an allocation was refused because of the limit.
    pub(crate) fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    /// Reserve `size` bytes; false (and the refused flag) when over the limit.
    fn reserve(&self, size: usize) -> bool {
        if self.past_deadline() {
            return false;
        }
        let current = self.current.load(Ordering::Relaxed);
        let next = match current.checked_add(size) {
            Some(n) if n <= self.limit => n,
            _ => {
                self.refused.store(true, Ordering::Relaxed);
                return false;
            }
        };
        // Single-threaded use (one runtime per execution thread): plain stores suffice.
        self.current.store(next, Ordering::Relaxed);
        if next > self.peak.load(Ordering::Relaxed) {
            self.peak.store(next, Ordering::Relaxed);
        }
        true
    }

    fn release(&self, size: usize) {
        let current = self.current.load(Ordering::Relaxed);
        self.current
            .store(current.saturating_sub(size), Ordering::Relaxed);
    }
}

/// The allocator handed to `Runtime::new_with_alloc`.
pub(crate) struct LimitedAllocator {
    stats: Arc<AllocStats>,
}

impl LimitedAllocator {
    pub(crate) fn new(stats: Arc<AllocStats>) -> Self {
        Self { stats }
    }
}

fn layout_for(payload: usize) -> Option<Layout> {
    let rounded = payload.checked_add(ALIGN - 1)? & !(ALIGN - 1);
    let total = rounded.checked_add(HEADER)?;
    Layout::from_size_align(total, ALIGN).ok()
}

/// Payload size recorded in the header of the block whose payload starts at `payload`.
///
/// # Safety
/// `payload` must come from this allocator and not have been freed.
unsafe fn stored_size(payload: *mut u8) -> usize {
    // SAFETY: the header lies HEADER bytes before the payload of a live block (caller contract).
    unsafe { payload.sub(HEADER).cast::<usize>().read() }
}

// SAFETY: every returned pointer is null or the payload of a live block of at least the requested
// size, aligned to 16; `usable_size` reads the size recorded when the block was (re)allocated.
unsafe impl Allocator for LimitedAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        let Some(layout) = layout_for(size) else {
            return ptr::null_mut();
        };
        if !self.stats.reserve(layout.size()) {
            return ptr::null_mut();
        }
        // SAFETY: layout has a non-zero size (at least HEADER).
        let base = unsafe { alloc::alloc(layout) };
        if base.is_null() {
            self.stats.release(layout.size());
            return ptr::null_mut();
        }
        // SAFETY: base is valid for layout.size() >= HEADER bytes and 16-aligned.
        unsafe {
            base.cast::<usize>().write(layout.size() - HEADER);
            base.add(HEADER)
        }
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            return ptr::null_mut();
        };
        let Some(layout) = layout_for(total) else {
            return ptr::null_mut();
        };
        if !self.stats.reserve(layout.size()) {
            return ptr::null_mut();
        }
        // SAFETY: non-zero layout size.
        let base = unsafe { alloc::alloc_zeroed(layout) };
        if base.is_null() {
            self.stats.release(layout.size());
            return ptr::null_mut();
        }
        // SAFETY: as in `alloc`.
        unsafe {
            base.cast::<usize>().write(layout.size() - HEADER);
            base.add(HEADER)
        }
    }

    unsafe fn dealloc(&mut self, payload: *mut u8) {
        if payload.is_null() {
            return;
        }
        // SAFETY: payload is a live block of this allocator (trait contract).
        let size = unsafe { stored_size(payload) };
        let total = size + HEADER;
        self.stats.release(total);
        // SAFETY: the block was allocated with exactly this layout.
        unsafe {
            alloc::dealloc(
                payload.sub(HEADER),
                Layout::from_size_align_unchecked(total, ALIGN),
            )
        };
    }

    unsafe fn realloc(&mut self, payload: *mut u8, new_size: usize) -> *mut u8 {
        if payload.is_null() {
            return self.alloc(new_size);
        }
        let Some(new_layout) = layout_for(new_size) else {
            return ptr::null_mut();
        };
        // SAFETY: payload is a live block of this allocator (trait contract).
        let old_total = unsafe { stored_size(payload) } + HEADER;
        let new_total = new_layout.size();
        if new_total > old_total && !self.stats.reserve(new_total - old_total) {
            return ptr::null_mut();
        }
        // SAFETY: the old block has layout (old_total, ALIGN); new_total is non-zero and was
        // produced by a valid Layout.
        let base = unsafe {
            alloc::realloc(
                payload.sub(HEADER),
                Layout::from_size_align_unchecked(old_total, ALIGN),
                new_total,
            )
        };
        if base.is_null() {
            if new_total > old_total {
                self.stats.release(new_total - old_total);
            }
            return ptr::null_mut();
        }
        if new_total < old_total {
            self.stats.release(old_total - new_total);
        }
        // SAFETY: base is valid for new_total >= HEADER bytes.
        unsafe {
            base.cast::<usize>().write(new_total - HEADER);
            base.add(HEADER)
        }
    }

    unsafe fn usable_size(payload: *mut u8) -> usize {
        if payload.is_null() {
            return 0;
        }
        // SAFETY: payload is a live block of this allocator (trait contract).
        unsafe { stored_size(payload) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_enforced_and_peak_recorded() {
        let stats = AllocStats::new(1024, Instant::now() + std::time::Duration::from_secs(60));
        let mut a = LimitedAllocator::new(stats.clone());
        let p = a.alloc(500);
        assert!(!p.is_null());
        assert!(a.alloc(600).is_null());
        assert!(stats.refused());
        // SAFETY: p is live and came from `a`.
        let q = unsafe { a.realloc(p, 100) };
        assert!(!q.is_null());
        // SAFETY: q is live.
        assert!(unsafe { LimitedAllocator::usable_size(q) } >= 100);
        // SAFETY: q is live.
        unsafe { a.dealloc(q) };
        assert!(stats.peak() >= 500);
        assert_eq!(stats.current.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn allocations_fail_after_the_deadline_without_counting_as_oom() {
        let stats = AllocStats::new(1 << 20, Instant::now());
        let mut a = LimitedAllocator::new(stats.clone());
        let refused = (0..2 * DEADLINE_CHECK_EVERY).any(|_| {
            let p = a.alloc(8);
            if p.is_null() {
                return true;
            }
            // SAFETY: p is live and came from `a`.
            unsafe { a.dealloc(p) };
            false
        });
        assert!(refused);
        assert!(stats.expired());
        assert!(!stats.refused());
    }
}
