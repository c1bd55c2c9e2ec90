/// jemalloc instead of glibc's malloc (BENCHMARKS.md, "Card import and export"): an import
/// allocates every field of every card on its reading thread and frees it on another, which
/// glibc's arenas handle poorly.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    meishi::cli::main()
}
