//! `nsl`: thin entry point; everything lives in the `nsl-node` crate.

fn main() -> std::process::ExitCode {
    nsl_node::cli::main()
}
