fn main() -> std::process::ExitCode {
    meishi::cli::main()
}
