//! mcchat's end-to-end tests live in `tests/`: `e2e` (one binary of modules, one host or
//! several per test) and `metrics` (alone: the metrics recorder is one per process). They
//! start hosts in-process and as the `mcchat` binary, which they take from the same build
//! (`cargo xtask test` builds both).
