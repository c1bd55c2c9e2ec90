/// jemalloc instead of glibc's malloc (BENCHMARKS.md, "Card import and export"): an import
/// allocates every field of every card on its reading thread and frees it on another, which
/// glibc's arenas handle poorly. (Not with MSVC, which jemalloc does not build with.)
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its first allocation: pages freed are given back to the system
/// within a second, by a thread of its own, instead of being kept for ten seconds. An import's
/// batches come and go every few milliseconds; kept, they made its peak RSS vary from 330 to
/// 500 MB between two runs of the same import (BENCHMARKS.md, "Same person and news").
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static JEMALLOC_CONF: &[u8; 60] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> std::process::ExitCode {
    meishi::cli::main()
}
