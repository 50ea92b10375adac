//! `clock`: the clock provider as a wasmCloud capability provider, for a lattice host to launch
//! (it writes the host data on stdin). The provider itself is this crate's library, the same
//! one the mcchat host links.

use std::process::ExitCode;

use mcchat_provider_clock::lattice::{ClockLinks, NAME};

fn main() -> ExitCode {
    mcchat_provider_kit::lattice::run("clock", NAME, |_| ClockLinks)
}
