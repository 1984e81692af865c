//! `cargo xtask`: the command line lives in [`xtask::cli`].

fn main() {
    xtask::cli::main()
}
