//! Progress reporting hooks: the library announces its steps, the binary draws them.

/// Receives progress events. All methods default to doing nothing.
pub trait Progress: Sync {
    /// A phase with `total` steps begins.
    fn begin(&self, _label: &str, _total: u64) {}
    /// `steps` more steps are done; `message` says what is being done now.
    fn advance(&self, _steps: u64, _message: &str) {}
    /// The phase is over.
    fn end(&self) {}
}

/// Discards all events.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
