//! A small spinning thread team for the decoder's parallel regions.
//!
//! A decoded token of 2B-4T runs about 120 short parallel regions (30 layers ×
//! q/k/v, o, gate/up, down) separated by short single-threaded ops. Rayon parks idle
//! workers and starts each region by splitting and stealing, a start-up that is a
//! large share of a region this short. Here the helpers spin on an epoch counter between
//! regions (parking only after [`SPIN`] without work), a region is published with one
//! atomic store, and tasks are handed out by a shared counter, so a thread slowed by
//! another process simply takes fewer tasks.
//!
//! The team has as many threads as the rayon pool it is created from (the caller plus
//! `threads − 1` helpers), so `--threads` and `RAYON_NUM_THREADS` keep their meaning.

use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// How long a helper spins without work before it parks. Longer than any gap between
/// two regions of a token (attention included), short enough not to burn a core
/// for long once a run ends.
const SPIN: Duration = Duration::from_millis(2);

/// Pause-loop iterations before a waiting thread starts yielding its core on every
/// check: enough to cover the gaps between a token's regions, so on an idle machine
/// nobody yields; with more runnable threads than cores, nobody hogs a core that a
/// preempted team thread (or another process) needs.
const YIELD_AFTER_SPINS: u32 = 2_000;

type Job = *const (dyn Fn(usize) + Sync + 'static);

/// An atomic on its own cache line, so the threads' cursors do not share one.
#[repr(align(128))]
struct Padded(AtomicUsize);

struct Shared {
    /// Bumped once per region; helpers wait for it to change.
    epoch: AtomicUsize,
    /// The current region's task function and task count; written by the caller
    /// before `epoch` is bumped (Release) and read by helpers after (Acquire).
    job: UnsafeCell<(Option<Job>, usize)>,
    /// One cursor per thread: the next unclaimed task of that thread's segment.
    cursors: Vec<Padded>,
    /// Helpers that finished the current region.
    done: AtomicUsize,
    /// Helpers currently parked (the caller unparks them when this is non-zero).
    parked: AtomicUsize,
    panicked: AtomicBool,
    stop: AtomicBool,
}

// SAFETY: `job` is written only by the caller holding `Team::lock` while no helper
// reads it (all helpers have reported `done` for the previous region), and read by
// helpers only between the epoch bump and their `done` report.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

pub struct Team {
    shared: Arc<Shared>,
    helpers: Vec<(JoinHandle<()>, Thread)>,
    /// One region at a time; a second concurrent caller runs its tasks serially.
    lock: Mutex<()>,
}

impl Team {
    /// A team of `threads` threads: the caller of [`Team::run`] and `threads − 1`
    /// helpers.
    pub fn new(threads: usize) -> Team {
        let shared = Arc::new(Shared {
            epoch: AtomicUsize::new(0),
            job: UnsafeCell::new((None, 0)),
            cursors: (0..threads.max(1))
                .map(|_| Padded(AtomicUsize::new(0)))
                .collect(),
            done: AtomicUsize::new(0),
            parked: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let helpers = (1..threads.max(1))
            .map(|i| {
                let s = Arc::clone(&shared);
                let h = thread::Builder::new()
                    .name(format!("bitnet-team-{i}"))
                    .spawn(move || helper(&s, i))
                    .expect("spawn a team thread");
                let t = h.thread().clone();
                (h, t)
            })
            .collect();
        Team {
            shared,
            helpers,
            lock: Mutex::new(()),
        }
    }

    pub fn threads(&self) -> usize {
        self.helpers.len() + 1
    }

    /// Calls `f(i)` for every `i` in `0..n`, spread over the team; returns when all
    /// calls have returned. Each index is handed out exactly once.
    pub fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        let guard = match self.lock.try_lock() {
            Ok(g) if n > 1 && !self.helpers.is_empty() => g,
            // One task, no helpers, or another region in flight (a second caller, or
            // a nested call): run here, in order.
            _ => return (0..n).for_each(f),
        };
        let s = &*self.shared;
        // SAFETY: lifetime erased only for the duration of this call: every helper
        // reports `done` (after its last use of `f`) before we return.
        let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
        // SAFETY: no helper reads `job` now (all reported `done` for the last region).
        unsafe { *s.job.get() = (Some(job), n) };
        let t = s.cursors.len();
        for (i, c) in s.cursors.iter().enumerate() {
            c.0.store(segment_start(n, t, i), Ordering::Relaxed);
        }
        s.done.store(0, Ordering::Relaxed);
        s.epoch.fetch_add(1, Ordering::SeqCst);
        if s.parked.load(Ordering::SeqCst) > 0 {
            for (_, t) in &self.helpers {
                t.unpark();
            }
        }
        let mine = catch_unwind(AssertUnwindSafe(|| work(s, f, n, 0)));
        let mut spins = 0u32;
        while s.done.load(Ordering::Acquire) < self.helpers.len() {
            spins = spins.saturating_add(1);
            // A helper preempted in the middle of a task (another process wants the
            // core) needs a core back to finish it: after a short spin, offer ours.
            if spins > YIELD_AFTER_SPINS {
                thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        // SAFETY: all helpers are done with this region.
        unsafe { *s.job.get() = (None, 0) };
        drop(guard);
        if let Err(p) = mine {
            resume_unwind(p);
        }
        if s.panicked.swap(false, Ordering::Relaxed) {
            panic!("a team thread panicked in a parallel region");
        }
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
        for (h, t) in self.helpers.drain(..) {
            t.unpark();
            let _ = h.join();
        }
    }
}

/// Thread `me` first works through its own contiguous segment of the tasks in order,
/// so its prefetches run ahead into rows it will read itself; then it takes what is
/// left of the other segments. Each task is claimed once, by a cursor's fetch_add.
fn work(s: &Shared, f: &(dyn Fn(usize) + Sync), n: usize, me: usize) {
    let t = s.cursors.len();
    for k in 0..t {
        let seg = (me + k) % t;
        let end = segment_start(n, t, seg + 1);
        loop {
            let i = s.cursors[seg].0.fetch_add(1, Ordering::Relaxed);
            if i >= end {
                break;
            }
            f(i);
        }
    }
}

/// Where thread `i`'s segment of `n` tasks starts (segment `t` ends at `n`).
fn segment_start(n: usize, t: usize, i: usize) -> usize {
    n * i / t
}

fn helper(s: &Shared, me: usize) {
    // The epoch the team was created with, not a fresh load: a region published before
    // this thread got here must still be seen.
    let mut seen = 0;
    loop {
        // Wait for the next region: spin, then park.
        let started = Instant::now();
        let mut spins = 0u32;
        loop {
            let e = s.epoch.load(Ordering::Acquire);
            if e != seen {
                seen = e;
                break;
            }
            spins = spins.wrapping_add(1);
            if spins > YIELD_AFTER_SPINS {
                // Still spinning, but let another runnable thread have the core.
                thread::yield_now();
            }
            if spins.is_multiple_of(1024) && started.elapsed() > SPIN {
                s.parked.fetch_add(1, Ordering::SeqCst);
                // Re-check after announcing, so an epoch bump that missed the
                // announcement is still seen; park tolerates early unparks.
                if s.epoch.load(Ordering::SeqCst) == seen {
                    thread::park();
                }
                s.parked.fetch_sub(1, Ordering::SeqCst);
                spins = 0;
                continue;
            }
            std::hint::spin_loop();
        }
        if s.stop.load(Ordering::SeqCst) {
            return;
        }
        // SAFETY: read after the epoch bump (Acquire pairs with the caller's release).
        let (job, n) = unsafe { *s.job.get() };
        if let Some(job) = job {
            // SAFETY: the caller keeps `f` alive until every helper reports done.
            let f = unsafe { &*job };
            if catch_unwind(AssertUnwindSafe(|| work(s, f, n, me))).is_err() {
                s.panicked.store(true, Ordering::Relaxed);
            }
        }
        s.done.fetch_add(1, Ordering::Release);
    }
}

/// Hands each task of `tasks` to exactly one call of `f`, over the team.
pub fn for_each_task<T: Send>(team: &Team, tasks: Vec<T>, f: impl Fn(T) + Sync) {
    struct Slots<T>(Vec<UnsafeCell<Option<T>>>);
    // SAFETY: `Team::run` gives each index to one call only, so each slot is taken by
    // one thread.
    unsafe impl<T: Send> Sync for Slots<T> {}
    impl<T> Slots<T> {
        /// # Safety
        /// Each index may be taken by one thread only.
        unsafe fn take(&self, i: usize) -> Option<T> {
            // SAFETY: forwarded contract.
            unsafe { (*self.0[i].get()).take() }
        }
    }
    let slots = Slots(
        tasks
            .into_iter()
            .map(|t| UnsafeCell::new(Some(t)))
            .collect(),
    );
    let n = slots.0.len();
    team.run(n, &|i| {
        // SAFETY: index i is handed out once (see above).
        if let Some(t) = unsafe { slots.take(i) } {
            f(t)
        }
    });
}
