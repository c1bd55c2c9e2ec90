/// jemalloc instead of glibc's malloc (BENCHMARKS.md, "Card import and export"): an import
/// allocates every field of every card on its reading thread and frees it on another, which
/// glibc's arenas handle poorly. (Not with MSVC, which jemalloc does not build with.)
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    meishi::cli::main()
}
