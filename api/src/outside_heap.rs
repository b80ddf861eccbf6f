//! How the vessel counts memory it holds outside its heap (kernel socket buffers) against
//! the `memory` limit: the worker hands in its counting allocator's functions; unit tests
//! count nothing. A state module: it imports no call and no runtime.

/// The two functions of the count.
#[derive(Clone, Copy)]
pub struct OutsideHeap {
    /// Counts bytes if they fit under the memory limit; false (nothing counted) if not.
    pub reserve: fn(usize) -> bool,
    pub release: fn(usize),
}

impl Default for OutsideHeap {
    fn default() -> Self {
        OutsideHeap { reserve: |_| true, release: |_| {} }
    }
}
