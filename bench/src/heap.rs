//! Live heap bytes of this process: a counting global allocator, so a
//! server run in this process can be charged exactly for what it keeps.
//! Only `idle-connections` links it; the load benchmarks use the system
//! allocator as it is.

use cap::Cap;

/// Counts the bytes of every live allocation of this process.
#[global_allocator]
static ALLOC: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

/// Live heap bytes of this process.
pub fn heap_bytes() -> usize {
    ALLOC.allocated()
}
