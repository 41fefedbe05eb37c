//! Untrusted workbooks are parsed in worker processes: the same executable
//! started with [`WORKER_ARG`], one per core, reused from file to file, each
//! under operating-system limits on memory (`RLIMIT_AS`) and CPU time
//! (`RLIMIT_CPU`), with a wall-clock deadline per file kept here. A worker
//! that aborts, dies, or runs out of memory or time costs that one file a
//! finding (`file.reader_limit`); it is replaced when the next file needs it.
//!
//! A worker gets a file's bytes, its type and the limits, runs
//! [`workbook::parse`] on them (under a panic guard: a panic is an answer,
//! not a death) and sends the sheets back, as postcard.
//!
//! The process names its worker executable once ([`use_workers`]); where
//! none is named (the library's own tests) files are parsed in process.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalogue, Limits};
use crate::read::workbook::{self, FileType, OpenError, Opened};
use crate::read::{FileRead, guard};

/// The first argument that makes the executable a worker.
pub const WORKER_ARG: &str = "__read-worker";

/// How a worker's work on a file ended, when it sent no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It passed `limits.max_memory_mb`.
    Memory,
    /// It passed `limits.max_cpu_seconds`.
    Cpu,
    /// It took longer than `limits.deadline_seconds` and was stopped.
    Deadline,
    /// It died otherwise (a crash, a signal from outside), or could not be
    /// started: what is known of it.
    Crashed(String),
}

/// A worker's answer: the sheets, or why there are none.
pub type Parsed = Result<Opened, OpenError>;

/// A pool of worker processes, to be shared by every thread that reads.
pub struct Pool {
    exe: PathBuf,
    size: usize,
    slots: Mutex<Slots>,
    freed: Condvar,
    spawned: AtomicUsize,
}

#[derive(Default)]
struct Slots {
    idle: Vec<Worker>,
    /// Workers started and not yet ended, idle or busy.
    live: usize,
    /// The process ids of the busy ones.
    busy: Vec<u32>,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: ChildStderr,
}

/// What a worker is asked to do with the bytes that follow.
#[derive(Serialize, Deserialize)]
struct Job {
    kind: FileType,
    limits: Limits,
}

impl Pool {
    /// A pool of at most `workers` processes of `worker_exe` (at least one),
    /// started when first needed.
    pub fn new(worker_exe: impl Into<PathBuf>, workers: usize) -> Pool {
        Pool {
            exe: worker_exe.into(),
            size: workers.max(1),
            slots: Mutex::new(Slots::default()),
            freed: Condvar::new(),
            spawned: AtomicUsize::new(0),
        }
    }

    /// Reads a file's bytes as [`crate::read::read_bytes`] does, parsing them
    /// in one of this pool's workers.
    pub fn read(&self, bytes: Vec<u8>, name: &str, display: &str, cat: &Catalogue) -> FileRead {
        crate::read::read_with(bytes, name, display, cat, &|b, k, l| self.parse(b, k, l))
    }

    /// Parses bytes in a worker: waits for an idle one (or starts one), and
    /// gives it until `limits.deadline_seconds`.
    ///
    /// # Errors
    /// How the worker ended when it sent no answer.
    pub fn parse(&self, bytes: &[u8], kind: FileType, limits: &Limits) -> Result<Parsed, Failure> {
        let mut worker = self.take()?;
        let pid = worker.child.id();
        let deadline = Instant::now() + Duration::from_secs(limits.deadline_seconds);
        let answer = worker.run(bytes, kind, limits, deadline);
        let mut slots = self.slots();
        slots.busy.retain(|p| *p != pid);
        let result = match answer {
            Ok(parsed) => {
                slots.idle.push(worker);
                Ok(parsed)
            }
            Err(wait) => {
                slots.live -= 1;
                drop(slots);
                Err(worker.end(wait))
            }
        };
        self.freed.notify_one();
        result
    }

    /// How many workers this pool has started.
    pub fn spawned(&self) -> usize {
        self.spawned.load(Ordering::Relaxed)
    }

    /// The process ids of the workers busy with a file now (for tests that
    /// stop one from outside).
    #[doc(hidden)]
    pub fn busy(&self) -> Vec<u32> {
        self.slots().busy.clone()
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle worker, or a new one while the pool is not full; else waits.
    fn take(&self) -> Result<Worker, Failure> {
        let mut slots = self.slots();
        while slots.live == self.size && slots.idle.is_empty() {
            slots = self.freed.wait(slots).unwrap_or_else(|e| e.into_inner());
        }
        let worker = match slots.idle.pop() {
            Some(w) => w,
            None => {
                slots.live += 1;
                drop(slots);
                let started = self.spawn();
                slots = self.slots();
                started.map_err(|e| {
                    slots.live -= 1;
                    Failure::Crashed(format!("cannot start {}: {e}", self.exe.display()))
                })?
            }
        };
        slots.busy.push(worker.child.id());
        Ok(worker)
    }

    fn spawn(&self) -> io::Result<Worker> {
        // (the worker puts itself under each job's limits: `limit_self`)
        let mut child = Command::new(&self.exe)
            .arg(WORKER_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        self.spawned.fetch_add(1, Ordering::Relaxed);
        // (all three were asked for as pipes, so they are there)
        Ok(Worker {
            stdin: child.stdin.take().expect("piped stdin"),
            stdout: child.stdout.take().expect("piped stdout"),
            stderr: child.stderr.take().expect("piped stderr"),
            child,
        })
    }
}

impl Drop for Pool {
    /// Idle workers see their input end, exit, and are waited for.
    fn drop(&mut self) {
        let slots = self.slots.get_mut().unwrap_or_else(|e| e.into_inner());
        for mut w in slots.idle.drain(..) {
            drop(w.stdin);
            let _ = w.child.wait();
        }
    }
}

/// Why no answer came.
enum Wait {
    Deadline,
    /// The pipe closed or broke: the worker is dead or dying.
    Closed,
}

impl Worker {
    fn run(
        &mut self,
        bytes: &[u8],
        kind: FileType,
        limits: &Limits,
        deadline: Instant,
    ) -> Result<Parsed, Wait> {
        let job = Job {
            kind,
            limits: limits.clone(),
        };
        let head = postcard::to_stdvec(&job).map_err(|_| Wait::Closed)?;
        let sent = frame(&mut self.stdin, &head).and_then(|()| frame(&mut self.stdin, bytes));
        sent.and_then(|()| self.stdin.flush())
            .map_err(|_| Wait::Closed)?;
        match unframe(&mut By(&mut self.stdout, deadline), u64::MAX) {
            Ok(Some(body)) => postcard::from_bytes(&body).map_err(|_| Wait::Closed),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(Wait::Deadline),
            _ => Err(Wait::Closed),
        }
    }

    /// Stops a worker that sent no answer and says how it ended.
    fn end(mut self, wait: Wait) -> Failure {
        if let Wait::Deadline = wait {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return Failure::Deadline;
        }
        drop(self.stdin);
        let status = match self.child.wait() {
            Ok(s) => s,
            Err(e) => return Failure::Crashed(e.to_string()),
        };
        let mut said = Vec::new();
        let _ = (&mut self.stderr).take(1 << 16).read_to_end(&mut said);
        let said = String::from_utf8_lossy(&said);
        if status.signal() == Some(libc::SIGXCPU) {
            return Failure::Cpu;
        }
        // Rust's answer to a failed allocation: this message, then abort.
        if said.contains("memory allocation of") {
            return Failure::Memory;
        }
        let last = said.lines().rev().find(|l| !l.trim().is_empty());
        let how = match status.signal() {
            Some(s) => format!("worker ended by signal {s}"),
            None => format!("worker exited with {status}"),
        };
        Failure::Crashed(match last {
            Some(l) => format!("{how}: {}", l.trim()),
            None => how,
        })
    }
}

/// A worker's output, read no later than a deadline (then `TimedOut`).
struct By<'a>(&'a mut ChildStdout, Instant);

impl Read for By<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let left = self.1.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let mut fd = libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = i32::try_from(left.as_millis() + 1).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd for the duration of the call.
            match unsafe { libc::poll(&mut fd, 1, ms) } {
                0 => {}
                ready if ready > 0 => return self.0.read(buf),
                _ => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// Sets a resource's soft limit (never above the hard one, which stays).
fn set_limit(resource: libc::__rlimit_resource_t, value: u64) {
    let mut now = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        if libc::getrlimit(resource, &mut now) != 0 {
            return;
        }
        let want = libc::rlimit {
            rlim_cur: value.min(now.rlim_max),
            rlim_max: now.rlim_max,
        };
        libc::setrlimit(resource, &want);
    }
}

/// The CPU seconds this process has used so far, rounded up.
fn cpu_used() -> u64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec;
    let micros = usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
    u64::try_from(secs).unwrap_or(0) + u64::try_from(micros).unwrap_or(0) / 1_000_000 + 1
}

/// Runs the worker loop and exits when the process was started as a worker
/// (its first argument is [`WORKER_ARG`]); returns at once otherwise. The
/// binary calls it first thing in `main`.
pub fn serve_if_worker() {
    if std::env::args_os().nth(1).as_deref() != Some(OsStr::new(WORKER_ARG)) {
        return;
    }
    let code = match serve(
        &mut io::stdin().lock(),
        &mut io::stdout().lock(),
        limit_self,
    ) {
        Ok(()) => 0,
        Err(_) => 3,
    };
    std::process::exit(code);
}

/// Puts this process under a job's limits: the CPU time counts from now,
/// the memory is the whole process's.
fn limit_self(limits: &Limits) {
    // a worker that aborts leaves no core file behind
    set_limit(libc::RLIMIT_CORE, 0);
    set_limit(
        libc::RLIMIT_CPU,
        cpu_used().saturating_add(limits.max_cpu_seconds),
    );
    set_limit(
        libc::RLIMIT_AS,
        limits.max_memory_mb.saturating_mul(Limits::MIB),
    );
}

/// Writes a message: its length (8 bytes, little-endian), then itself.
fn frame(w: &mut impl Write, body: &[u8]) -> io::Result<()> {
    w.write_all(&(body.len() as u64).to_le_bytes())?;
    w.write_all(body)
}

/// Reads a message of at most `max` bytes; `None` when the input has ended.
fn unframe(r: &mut impl Read, max: u64) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 8];
    match r.read_exact(&mut len) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        r => r?,
    }
    let mut body = Vec::new();
    r.take(u64::from_le_bytes(len).min(max))
        .read_to_end(&mut body)?;
    Ok(Some(body))
}

/// Answers jobs until the input ends; `limit` is applied before each.
fn serve(input: &mut impl Read, output: &mut impl Write, limit: fn(&Limits)) -> io::Result<()> {
    let bad = |e: postcard::Error| io::Error::new(io::ErrorKind::InvalidData, e);
    while let Some(head) = unframe(input, 1 << 20)? {
        let job: Job = postcard::from_bytes(&head).map_err(bad)?;
        let bytes = unframe(input, u64::MAX)?.unwrap_or_default();
        limit(&job.limits);
        let parsed = guarded(&bytes, job.kind, &job.limits);
        drop(bytes);
        frame(output, &postcard::to_stdvec(&parsed).map_err(bad)?)?;
        output.flush()?;
    }
    Ok(())
}

static WORKER_EXE: OnceLock<PathBuf> = OnceLock::new();
static SHARED: OnceLock<Pool> = OnceLock::new();

/// Names the executable the process's shared pool starts as its workers
/// (the zonestat binary: it runs the worker loop when started with
/// [`WORKER_ARG`]). The first call counts; call it before the first read.
///
/// # Examples
/// ```no_run
/// zonestat::read::use_workers(std::env::current_exe().unwrap());
/// ```
pub fn use_workers(worker_exe: impl Into<PathBuf>) {
    let _ = WORKER_EXE.set(worker_exe.into());
}

/// The process's shared pool, one worker per core, when a worker executable
/// is named ([`use_workers`], else `ZONESTAT_WORKER`); `None` otherwise.
pub fn shared() -> Option<&'static Pool> {
    if let Some(p) = SHARED.get() {
        return Some(p);
    }
    let exe = WORKER_EXE
        .get()
        .cloned()
        .or_else(|| std::env::var_os("ZONESTAT_WORKER").map(PathBuf::from))?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Some(SHARED.get_or_init(|| Pool::new(exe, cores)))
}

/// [`workbook::parse`], its panic an answer: what a worker runs, and what
/// the library's own tests run in process (where no worker is named).
pub(crate) fn guarded(bytes: &[u8], kind: FileType, limits: &Limits) -> Parsed {
    guard::isolate(|| workbook::parse(bytes, kind, limits))
        .unwrap_or_else(|m| Err(OpenError::Panic(m)))
}
