//! The binary's allocator: jemalloc. Under the throughput bench, glibc's malloc spent about 5% of
//! the host's CPU waiting on, and waking, arena locks the two tokio workers shared, and every
//! host call allocates; jemalloc's per-thread caches take most allocations without a lock. Side
//! by side in one session, the same host served ~50% more `POST /messages` with it
//! (BENCHMARKS.md, "The allocator").

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Two arenas (not four per core): memory freed by one thread is reused by the others instead of
/// sitting in an arena of its own. A background thread returns pages unused for a second to the
/// system, off the request path, so an idle host shrinks. `_RJEM_MALLOC_CONF` overrides.
#[cfg(not(target_env = "msvc"))]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] =
    b"narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";
