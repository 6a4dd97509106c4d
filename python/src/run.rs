//! Running one computation with the GIL released, Ctrl-C and progress kept alive.
//!
//! The work runs on a worker thread. The calling thread releases the GIL and waits for it,
//! waking every [`TICK`] to take the GIL, forward the progress events to the Python progress
//! object and call `Python::check_signals()`. When that raises (Ctrl-C: `KeyboardInterrupt`), or
//! the progress object raises, the cancellation flag is set, the worker is awaited (the library
//! returns `Error::Cancelled` at its next checkpoint) and the Python exception is re-raised.

use sgdstab::progress::{Hooks, Progress};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// How often the waiting thread checks for signals and forwards progress.
pub const TICK: Duration = Duration::from_millis(50);

/// Stack of the worker thread (the library's recursion is shallow; the main thread's 8 MiB).
const WORKER_STACK: usize = 8 << 20;

/// A progress event of the library, queued until the waiting thread forwards it.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Begin(String, u64),
    Advance(u64, String),
    End,
}

/// Collects the library's progress events (called from the worker and rayon threads).
#[derive(Default)]
struct Relay {
    events: Mutex<Vec<Event>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a panic while holding the lock leaves plain data behind: keep using it
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Progress for Relay {
    fn begin(&self, label: &str, total: u64) {
        lock(&self.events).push(Event::Begin(label.to_string(), total));
    }
    fn advance(&self, steps: u64, message: &str) {
        let mut ev = lock(&self.events);
        // coalesce: between two ticks only the sum and the last message matter
        if let Some(Event::Advance(s, m)) = ev.last_mut() {
            *s += steps;
            if !message.is_empty() {
                *m = message.to_string();
            }
        } else {
            ev.push(Event::Advance(steps, message.to_string()));
        }
    }
    fn end(&self) {
        lock(&self.events).push(Event::End);
    }
}

impl Relay {
    /// Calls `begin(label, total)`, `advance(steps, message)`, `end()` on the Python object.
    fn forward(&self, target: &Bound<'_, PyAny>) -> PyResult<()> {
        let events = std::mem::take(&mut *lock(&self.events));
        for e in events {
            match e {
                Event::Begin(label, total) => target.call_method1("begin", (label, total))?,
                Event::Advance(steps, message) => {
                    target.call_method1("advance", (steps, message))?
                }
                Event::End => target.call_method0("end")?,
            };
        }
        Ok(())
    }
}

/// Set when the worker is done (also if it panicked: set on drop).
#[derive(Default)]
struct Done {
    flag: Mutex<bool>,
    wake: Condvar,
}

impl Done {
    fn set(&self) {
        *lock(&self.flag) = true;
        self.wake.notify_all();
    }

    /// Waits at most `timeout`; whether the worker is done.
    fn wait(&self, timeout: Duration) -> bool {
        let guard = lock(&self.flag);
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, timeout, |done| !*done)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }
}

struct SetOnDrop<'a>(&'a Done);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// Runs `work` on a worker thread with the GIL released, polling for signals (see the module
/// documentation). `progress` is a Python object with `begin`, `advance` and `end` methods.
pub fn run<T, F>(py: Python<'_>, progress: Option<Bound<'_, PyAny>>, work: F) -> PyResult<T>
where
    F: FnOnce(Hooks<'_>) -> sgdstab::Result<T> + Send,
    T: Send,
{
    let relay = Relay::default();
    let cancel = AtomicBool::new(false);
    let done = Done::default();
    let (outcome, pending) = std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("sgdstab".into())
            .stack_size(WORKER_STACK)
            .spawn_scoped(s, || {
                let _done = SetOnDrop(&done);
                work(Hooks::new(&relay, &cancel))
            });
        let worker = match worker {
            Ok(w) => w,
            Err(e) => {
                return (
                    None,
                    Some(PyRuntimeError::new_err(format!(
                        "sgdstab: cannot start a worker thread: {e}"
                    ))),
                )
            }
        };
        let mut pending: Option<PyErr> = None;
        loop {
            let finished = py.detach(|| done.wait(TICK));
            if pending.is_none() {
                let polled = match &progress {
                    Some(p) => relay.forward(p),
                    None => Ok(()),
                }
                .and_then(|()| py.check_signals());
                if let Err(e) = polled {
                    cancel.store(true, Ordering::Relaxed);
                    pending = Some(e);
                }
            }
            if finished || worker.is_finished() {
                break;
            }
        }
        // the worker has finished (or is about to): joining does not block for long
        let outcome = py.detach(|| worker.join());
        if pending.is_none() {
            if let Some(p) = &progress {
                if let Err(e) = relay.forward(p) {
                    pending = Some(e);
                }
            }
        }
        (Some(outcome), pending)
    });
    if let Some(e) = pending {
        return Err(e);
    }
    match outcome {
        Some(Ok(Ok(v))) => Ok(v),
        Some(Ok(Err(e))) => Err(crate::errors::to_py(e)),
        Some(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!(
                "sgdstab: internal error (a bug, please report it): {what}"
            )))
        }
        None => Err(PyRuntimeError::new_err("sgdstab: the worker did not run")),
    }
}
