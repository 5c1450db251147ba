//! Background work for the UI: every slow thing (Hub calls, downloads, tokenization, training
//! events, predictions) runs on a named thread. [`Jobs::task`] hands back a typed [`Task`]
//! that the panel which started it owns and polls each frame (as egui_demo_app's panels own
//! their `Promise`, and rerun's background tasks are polled by whoever started them);
//! dropping a task discards its result, so a newer request simply replaces an older one (the
//! older work is told through `Reporter::is_cancelled`, but most of it runs to its end off the
//! UI thread, listed in the status bar until then). Progress and
//! the running list, which the status bar shows, come back over one channel that the app
//! drains once per frame. Senders wake the UI with `request_repaint`.

use crossbeam_channel::{Receiver, Sender, unbounded};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::hub::EventSink;

pub type JobId = u64;

/// What a job's thread tells the status bar.
#[derive(Debug)]
enum Note {
    /// A job's progress; `total` 0 when unknown.
    Progress {
        job: JobId,
        done: u64,
        total: u64,
        detail: String,
    },
    /// A job's thread ended.
    Finished { job: JobId },
}

/// A job still running, for the status bar.
#[derive(Debug, Clone)]
pub struct JobStatus {
    pub label: String,
    pub done: u64,
    pub total: u64,
    pub detail: String,
    pub started: Instant,
}

impl JobStatus {
    /// Fraction done, when the total is known.
    pub fn fraction(&self) -> Option<f32> {
        (self.total > 0).then(|| (self.done as f32 / self.total as f32).clamp(0.0, 1.0))
    }
}

type Repaint = Arc<dyn Fn() + Send + Sync>;

/// The sending side handed to a job's thread.
#[derive(Clone)]
pub struct Reporter {
    job: JobId,
    tx: Sender<Note>,
    repaint: Repaint,
    cancelled: Arc<AtomicBool>,
}

impl Reporter {
    pub fn job(&self) -> JobId {
        self.job
    }

    /// Whether the task's owner dropped it: long work may stop early, as nobody will read
    /// its result.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Tells the status bar and wakes the UI thread.
    fn send(&self, note: Note) {
        // The receiver only goes away when the app closes; nothing is left to tell.
        let _ = self.tx.send(note);
        (self.repaint)();
    }

    pub fn progress(&self, done: u64, total: u64, detail: impl Into<String>) {
        self.send(Note::Progress {
            job: self.job,
            done,
            total,
            detail: detail.into(),
        });
    }

    /// A Hub event sink that turns download progress into this job's progress.
    pub fn hub_sink(&self) -> EventSink {
        let reporter = self.clone();
        crate::hub::download_progress_sink(move |detail, done, total| {
            reporter.progress(done, total, detail)
        })
    }
}

/// Why a task gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The work panicked: a bug in Wick, reported instead of taking the app down.
    #[error("internal error while {label}: {reason}")]
    Crashed { label: String, reason: String },
    /// The work never ran (its thread could not start).
    #[error("the background thread could not start")]
    NotStarted,
}

/// Work running on its own thread whose result comes back to the owner, once, through
/// [`Task::poll`]. Dropping the task discards its result and turns
/// [`Reporter::is_cancelled`] true for the work, which may stop early.
pub struct Task<T> {
    job: JobId,
    result: Receiver<Result<T, TaskError>>,
    cancelled: Arc<AtomicBool>,
    taken: bool,
}

impl<T> Task<T> {
    /// The result, once the work has returned; `None` while it runs (and after the result
    /// was taken).
    pub fn poll(&mut self) -> Option<Result<T, TaskError>> {
        if self.taken {
            return None;
        }
        let result = match self.result.try_recv() {
            Ok(result) => result,
            Err(crossbeam_channel::TryRecvError::Empty) => return None,
            Err(crossbeam_channel::TryRecvError::Disconnected) => Err(TaskError::NotStarted),
        };
        self.taken = true;
        Some(result)
    }

    /// The job id the status bar lists this task under.
    pub fn job(&self) -> JobId {
        self.job
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// Polls an optional task: its result when it is ready (the slot is then emptied).
pub fn poll_slot<T>(slot: &mut Option<Task<T>>) -> Option<Result<T, TaskError>> {
    let result = slot.as_mut()?.poll()?;
    *slot = None;
    Some(result)
}

/// A task's result as the text its owner shows: the work's own error or the task's.
pub fn flatten<T, E: std::fmt::Display>(
    result: Result<Result<T, E>, TaskError>,
) -> Result<T, String> {
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(err.to_string()),
        Err(err) => Err(err.to_string()),
    }
}

pub struct Jobs {
    tx: Sender<Note>,
    rx: Receiver<Note>,
    repaint: Repaint,
    running: BTreeMap<JobId, JobStatus>,
    next_id: JobId,
}

impl Jobs {
    /// `repaint` wakes the UI; in the app it is `ctx.request_repaint()`.
    pub fn new(repaint: impl Fn() + Send + Sync + 'static) -> Self {
        let (tx, rx) = unbounded();
        Self {
            tx,
            rx,
            repaint: Arc::new(repaint),
            running: BTreeMap::new(),
            next_id: 1,
        }
    }

    /// Runs `work` on a thread named `wick-{name}`, listed in the status bar as `label`
    /// until it returns, and hands back its result as a [`Task`] for the caller to own and
    /// poll.
    pub fn task<T: Send + 'static>(
        &mut self,
        name: &str,
        label: impl Into<String>,
        work: impl FnOnce(&Reporter) -> T + Send + 'static,
    ) -> Task<T> {
        let (result_tx, result) = crossbeam_channel::bounded(1);
        let label = label.into();
        let crash_label = label.clone();
        let reporter = self.reporter();
        let cancelled = reporter.cancelled.clone();
        let job = reporter.job;
        self.start(name, label, reporter, move |reporter| {
            let outcome = catch_unwind(AssertUnwindSafe(|| work(reporter)));
            let result = outcome.map_err(|panic| TaskError::Crashed {
                label: crash_label,
                reason: crate::panics::panic_message(panic.as_ref()),
            });
            // The owner dropped the task: nobody reads the result, which is fine.
            let _ = result_tx.send(result);
        });
        Task {
            job,
            result,
            cancelled,
            taken: false,
        }
    }

    /// Starts `work` on its thread with `reporter`, listing it as running; `Finished` is
    /// sent when it returns.
    fn start(
        &mut self,
        name: &str,
        label: String,
        reporter: Reporter,
        work: impl FnOnce(&Reporter) + Send + 'static,
    ) {
        let job = reporter.job;
        self.running.insert(
            job,
            JobStatus {
                label,
                done: 0,
                total: 0,
                detail: String::new(),
                started: Instant::now(),
            },
        );
        let spawned = std::thread::Builder::new()
            .name(format!("wick-{name}"))
            .spawn(move || {
                work(&reporter);
                reporter.send(Note::Finished { job });
            });
        if let Err(err) = spawned {
            // The thread never ran: the result channel went with the closure, so the owner's
            // poll says NotStarted; the status bar is cleared.
            log_thread_error(&err);
            let _ = self.tx.send(Note::Finished { job });
        }
    }

    /// Wakes the UI thread (for threads that hand results over by other channels).
    pub fn waker(&self) -> Arc<dyn Fn() + Send + Sync> {
        self.repaint.clone()
    }

    /// A reporter with a fresh job id.
    fn reporter(&mut self) -> Reporter {
        let job = self.next_id;
        self.next_id += 1;
        Reporter {
            job,
            tx: self.tx.clone(),
            repaint: self.repaint.clone(),
            cancelled: Arc::default(),
        }
    }

    /// Takes in the progress and endings that arrived since the last frame, for the
    /// status bar. (Results go to each task's owner, not through here.)
    pub fn update(&mut self) {
        for note in self.rx.try_iter() {
            match note {
                Note::Progress {
                    job,
                    done,
                    total,
                    detail,
                } => {
                    if let Some(status) = self.running.get_mut(&job) {
                        status.done = done;
                        status.total = total;
                        status.detail = detail;
                    }
                }
                Note::Finished { job } => {
                    self.running.remove(&job);
                }
            }
        }
    }

    pub fn running(&self) -> impl Iterator<Item = &JobStatus> {
        self.running.values()
    }

    pub fn is_running(&self, job: JobId) -> bool {
        self.running.contains_key(&job)
    }

    pub fn status(&self, job: JobId) -> Option<&JobStatus> {
        self.running.get(&job)
    }
}

fn log_thread_error(err: &std::io::Error) {
    eprintln!("wick: could not start a background thread: {err}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn wait_until_idle(jobs: &mut Jobs) {
        for _ in 0..500 {
            jobs.update();
            if jobs.running().next().is_none() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("jobs did not finish");
    }

    #[test]
    fn progress_updates_the_running_list_and_finish_removes_it() {
        let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
        let mut jobs = Jobs::new(|| {});
        let task = jobs.task("test", "counting", move |r| {
            r.progress(3, 10, "three");
            gate_rx.recv().unwrap();
        });
        let job = task.job();
        for _ in 0..500 {
            jobs.update();
            if jobs.status(job).is_some_and(|s| s.done == 3) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let status = jobs.status(job).expect("still running");
        assert_eq!(
            (status.done, status.total, status.detail.as_str()),
            (3, 10, "three")
        );
        assert_eq!(status.fraction(), Some(0.3));
        gate_tx.send(()).unwrap();
        wait_until_idle(&mut jobs);
        assert!(!jobs.is_running(job));
    }

    fn wait_for<T>(task: &mut Task<T>, jobs: &mut Jobs) -> Result<T, TaskError> {
        for _ in 0..500 {
            jobs.update();
            if let Some(result) = task.poll() {
                return result;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the task did not finish");
    }

    #[test]
    fn a_task_hands_its_result_to_its_owner_once() {
        let mut jobs = Jobs::new(|| {});
        let mut task = jobs.task("test", "adding", |r| {
            r.progress(1, 2, "half");
            2 + 3
        });
        assert_eq!(wait_for(&mut task, &mut jobs), Ok(5));
        assert_eq!(task.poll(), None, "the result comes once");
        wait_until_idle(&mut jobs);
        assert!(!jobs.is_running(task.job()));
    }

    #[test]
    fn a_panicking_task_comes_back_as_an_error() {
        let mut jobs = Jobs::new(|| {});
        let mut task: Task<()> = jobs.task("test", "exploding", |_| panic!("boom"));
        assert_eq!(
            wait_for(&mut task, &mut jobs),
            Err(TaskError::Crashed {
                label: "exploding".into(),
                reason: "boom".into()
            })
        );
    }

    #[test]
    fn dropping_a_task_tells_its_work() {
        let mut jobs = Jobs::new(|| {});
        let (seen_tx, seen_rx) = crossbeam_channel::bounded(1);
        let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
        let task = jobs.task("test", "waiting", move |r| {
            gate_rx.recv().unwrap();
            seen_tx.send(r.is_cancelled()).unwrap();
        });
        drop(task);
        gate_tx.send(()).unwrap();
        assert_eq!(seen_rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        wait_until_idle(&mut jobs);
    }

    #[test]
    fn senders_wake_the_ui() {
        let wakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = wakes.clone();
        let mut jobs = Jobs::new(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let _task = jobs.task("test", "quiet", |r| r.progress(1, 1, ""));
        wait_until_idle(&mut jobs);
        // One progress plus the finish notice.
        assert!(wakes.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    }
}
