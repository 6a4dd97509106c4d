//! The integration tests, as modules of one test crate: it links the library once (30 separate
//! binaries each linked the whole library, minutes of link time). `memory_peak` stays a binary of
//! its own: it installs a counting global allocator, which would count every other test too.

mod common;
mod io_support;

mod bundle;
mod cancel;
mod cli_analyze;
mod cli_bad_input;
mod cli_generalization;
mod cli_interop;
mod cli_networks;
mod closed_form;
mod clustered;
mod davidson_solver;
mod diagram;
mod fuzz_readers;
mod generalization;
mod golden_reports;
mod hostile_inputs;
mod io_formats;
mod io_write_atomic;
mod library_speaks_no_flags;
mod matrix_free;
mod networks;
mod problem;
mod properties;
mod simulate;
mod span_reduction;
mod streaming;
mod threshold;
mod threshold_properties;
