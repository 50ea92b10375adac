//! Caps glibc's malloc arenas. glibc gives each thread that meets contention an arena of its own,
//! up to eight per core, and memory freed into one arena is not reused by the others. The host's
//! tokio, wasmtime and provider threads allocate short-lived buffers, so many arenas only hold
//! freed pages: under the throughput bench, two arenas keep RSS about 12 MB lower at the same
//! throughput (BENCHMARKS.md).

/// Arenas when `MALLOC_ARENA_MAX` is not set.
const ARENAS: i32 = 2;

/// Call before the runtime starts its threads. `MALLOC_ARENA_MAX` in the environment wins.
pub fn limit() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a malloc parameter; called before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}
