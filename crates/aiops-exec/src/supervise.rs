//! Executor children die with the daemon, their whole process tree included.
//!
//! `PR_SET_PDEATHSIG` alone is not enough for Ansible: it reaches only the direct child
//! (`ansible-playbook`), is cleared in every process that child forks, and Ansible's workers
//! call `setsid()`. Killed alone, `ansible-playbook` leaves the worker of the task in flight
//! running, and that worker finishes the change after the daemon is gone. So every
//! executor child is started under a **supervisor**, a process that sits between the
//! daemon and the real child:
//!
//! ```text
//! daemon ──fork──► supervisor (subreaper; no exec) ──fork──► ansible-playbook (exec)
//!    └── lifeline pipe, write end ──────► read end: HUP when the daemon is gone
//! ```
//!
//! - The supervisor is forked by the daemon's spawn and never execs: it runs
//!   [`enter`] in `pre_exec`, forks the real child and then only waits. It marks itself a
//!   *child subreaper* (`PR_SET_CHILD_SUBREAPER`), so every process of the run that loses
//!   its parent (Ansible's `setsid()` workers, their shells and commands) is reparented to
//!   it instead of to init: the whole tree stays below it, however it detaches.
//! - It follows the daemon through a **lifeline**: a pipe whose write end only the daemon
//!   holds. When the daemon dies (even by `kill -9`) or drops the run, the kernel closes
//!   that end and the supervisor's `poll` sees a hang-up. It then SIGKILLs every process
//!   below it, reaps them until it has no child left, and exits. The lifeline belongs to
//!   the daemon *process*, so, unlike `PR_SET_PDEATHSIG` (which fires when the forking
//!   *thread* exits), it does not matter which runtime thread spawned the run.
//! - The real child gets `PR_SET_PDEATHSIG(SIGKILL)` towards the supervisor, whose only
//!   thread lives exactly as long as the supervisor: if the supervisor is killed (the
//!   daemon's timeout does that), the child dies with it.
//! - Otherwise the supervisor exits with its child's status (a child killed by signal
//!   `n` shows as exit code `128 + n`, except SIGKILL, which the supervisor repeats), so
//!   callers see the child's exit as before.
//!
//! Everything from the fork to `exit` runs in a forked copy of a multi-threaded process,
//! where only async-signal-safe operations are allowed: this module only makes system
//! calls, on stack buffers (no allocation, no locks, no formatting, no panics).

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::fs::{CWD, Mode, OFlags, RawDir, openat};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::process::{
    Pid, PidfdFlags, Signal, WaitOptions, getpid, getppid, kill_process, kill_process_group,
    pidfd_open, set_child_subreaper, set_parent_process_death_signal, setpgid, wait, waitpid,
};

/// The exit code of a supervisor that killed its tree because the daemon went away.
const ORPHANED: i32 = 137;

/// Ends the supervisor at once: no destructors, no atexit handlers, no stdio flushing
/// (they belong to the daemon's copy of the memory).
fn exit_group(code: i32) -> ! {
    // SAFETY: _exit(2) is async-signal-safe and ends the process.
    unsafe { libc::_exit(code) }
}

/// The daemon's end of one run's lifeline. Dropping it (the run ended, was cancelled, or
/// the daemon died) tells the supervisor to kill the run's whole process tree.
#[derive(Debug)]
pub(crate) struct Lifeline {
    /// Held, never written: closing it (drop, or the daemon's death) is the message.
    _write: OwnedFd,
    /// The supervisor's end, held until the child is forked.
    read: Option<OwnedFd>,
}

impl Lifeline {
    pub(crate) fn new() -> io::Result<Self> {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
        // Above stdio: the child's stdio set-up (dup2 onto 0..2) must not replace it, even
        // when the daemon runs with a closed stdin.
        let read = rustix::io::fcntl_dupfd_cloexec(&read, 3)?;
        Ok(Lifeline {
            _write: write,
            read: Some(read),
        })
    }

    /// Makes `cmd` start under a supervisor tied to this lifeline.
    pub(crate) fn arm(&self, cmd: &mut tokio::process::Command) {
        let Some(read) = self.read.as_ref().map(AsRawFd::as_raw_fd) else {
            return;
        };
        let daemon = getpid();
        // SAFETY: the closure runs in the forked child before exec. `enter` only makes
        // system calls on stack memory (see the module comment), which is what `pre_exec`
        // requires; the fds it names are the lifeline's, open in the parent at fork time.
        unsafe {
            cmd.pre_exec(move || enter(daemon, read));
        }
    }

    /// The child is started: the daemon keeps only the write end.
    pub(crate) fn started(&mut self) {
        self.read = None;
    }
}

/// Runs in the forked child of the daemon: becomes the supervisor, forks the real child
/// (which returns `Ok` here and goes on to exec) and never returns itself.
fn enter(daemon: Pid, lifeline: RawFd) -> io::Result<()> {
    set_child_subreaper(Some(getpid()))?;
    if getppid() != Some(daemon) {
        // The daemon died before the fork: start nothing.
        return Err(io::Error::from_raw_os_error(Errno::SRCH.raw_os_error()));
    }
    let supervisor = getpid();
    // SAFETY: fork in a single-threaded process (this forked copy has one thread).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // The real child: dies with the supervisor, leads its own process group (so
            // the supervisor can kill the group without killing itself), then execs.
            set_parent_process_death_signal(Some(Signal::KILL))?;
            if getppid() != Some(supervisor) {
                return Err(io::Error::from_raw_os_error(Errno::SRCH.raw_os_error()));
            }
            setpgid(None, None)?;
            Ok(())
        }
        child => {
            let Some(child) = Pid::from_raw(child) else {
                exit_group(1)
            };
            close_all_but(lifeline);
            block_signals();
            // SAFETY: `lifeline` stays open (close_all_but kept it) until this process exits.
            let lifeline = unsafe { BorrowedFd::borrow_raw(lifeline) };
            supervise(child, lifeline)
        }
    }
}

/// Closes every descriptor but `keep`: the daemon's files (its database, its data
/// directory lock, its spawn error pipe, other runs' lifelines) must not stay open in a
/// process that never execs.
fn close_all_but(keep: RawFd) {
    let keep = u32::try_from(keep).unwrap_or(u32::MAX);
    let ranges = [
        (3, keep.saturating_sub(1)),
        (keep.saturating_add(1), u32::MAX),
    ];
    for (first, last) in ranges {
        if first > last {
            continue;
        }
        // SAFETY: close_range(2) only closes descriptors of this process.
        let done = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
        if done != 0 {
            // Kernels before 5.9: close the usual range one by one.
            for fd in first..=last.min(4095) {
                // SAFETY: closing a descriptor nobody in this process uses any more.
                unsafe { libc::close(fd as libc::c_int) };
            }
        }
    }
}

/// Signals are blocked in the supervisor: the daemon's handlers, inherited through the
/// fork, must not run here. SIGKILL still ends it.
fn block_signals() {
    // SAFETY: a zeroed sigset_t is valid input to sigfillset, which fills it.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
    }
}

/// Waits for the child to exit (then exits with its status) or for the lifeline to hang
/// up (then kills the whole tree and exits).
fn supervise(child: Pid, lifeline: BorrowedFd<'_>) -> ! {
    let pidfd = pidfd_open(child, PidfdFlags::empty()).ok();
    // Without pidfds (before Linux 5.3) the child's exit is polled for.
    let tick = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    loop {
        let (daemon_gone, child_done) = match &pidfd {
            Some(pidfd) => {
                let mut fds = [
                    PollFd::from_borrowed_fd(lifeline, PollFlags::IN),
                    PollFd::new(pidfd, PollFlags::IN),
                ];
                let _ = poll(&mut fds, None);
                (!fds[0].revents().is_empty(), !fds[1].revents().is_empty())
            }
            None => {
                let mut fds = [PollFd::from_borrowed_fd(lifeline, PollFlags::IN)];
                let _ = poll(&mut fds, Some(&tick));
                (!fds[0].revents().is_empty(), true)
            }
        };
        if daemon_gone {
            kill_tree(child);
            exit_group(ORPHANED)
        }
        if child_done && let Ok(Some((_, status))) = waitpid(Some(child), WaitOptions::NOHANG) {
            if let Some(code) = status.exit_status() {
                exit_group(code)
            }
            match status.terminating_signal() {
                Some(sig) if sig == Signal::KILL.as_raw() => {
                    let _ = kill_process(getpid(), Signal::KILL);
                    exit_group(ORPHANED)
                }
                Some(sig) => exit_group(128 + sig),
                None => {}
            }
        }
    }
}

/// SIGKILLs every process below the supervisor until none is left. As a subreaper it
/// inherits each orphan of the tree, so killing its children, then its new children (the
/// orphans of the ones just killed), and so on, reaches every process of the run.
fn kill_tree(child: Pid) {
    let _ = kill_process_group(child, Signal::KILL);
    let me = getpid();
    loop {
        for_each_child(me, |pid| {
            // A worker that called setsid() leads a group with its own children in it.
            let _ = kill_process_group(pid, Signal::KILL);
            let _ = kill_process(pid, Signal::KILL);
        });
        // Any child (`wait`, not `waitpid(None)`, which is only the caller's own group).
        match wait(WaitOptions::empty()) {
            Ok(Some(_)) | Err(Errno::INTR) => {}
            // No child left (ECHILD): the tree is gone.
            _ => break,
        }
    }
}

/// Calls `f` with each live child of `parent`, read from `/proc` without allocating.
fn for_each_child(parent: Pid, mut f: impl FnMut(Pid)) {
    let Ok(proc_dir) = openat(
        CWD,
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut entries = RawDir::new(proc_dir.as_fd(), &mut buf);
    while let Some(entry) = entries.next() {
        let Ok(entry) = entry else { break };
        let name = entry.file_name();
        let Some(pid) = parse_int(name.to_bytes()).and_then(Pid::from_raw) else {
            continue;
        };
        if parent_of(proc_dir.as_fd(), name) == Some(parent.as_raw_pid()) {
            f(pid);
        }
    }
}

/// The parent pid in `/proc/<name>/stat` ("pid (comm) state ppid ..."; comm may hold
/// spaces and parentheses, so fields are counted after the last `)`).
fn parent_of(proc_dir: BorrowedFd<'_>, name: &CStr) -> Option<i32> {
    let name = name.to_bytes();
    let mut path = [0u8; 40];
    let suffix = b"/stat\0";
    let len = name.len() + suffix.len();
    path.get_mut(..name.len())?.copy_from_slice(name);
    path.get_mut(name.len()..len)?.copy_from_slice(suffix);
    let path = CStr::from_bytes_with_nul(path.get(..len)?).ok()?;
    let fd = openat(
        proc_dir,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut stat = [0u8; 1024];
    let n = rustix::io::read(&fd, &mut stat).ok()?;
    let stat = stat.get(..n)?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat
        .get(close + 1..)?
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let _state = fields.next()?;
    parse_int(fields.next()?)
}

fn parse_int(digits: &[u8]) -> Option<i32> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0i32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + i32::from(d - b'0'))
    })
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // the tests start `sh` under a supervisor
mod tests {
    use std::process::Stdio;

    use aiops_test_support::procs;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::process::Command;

    use super::*;

    /// `sh -c script` under a supervisor; returns the child (the supervisor) and the
    /// lifeline.
    fn supervised(script: &str) -> (tokio::process::Child, Lifeline) {
        let mut lifeline = Lifeline::new().expect("lifeline");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        lifeline.arm(&mut cmd);
        let child = cmd.spawn().expect("spawn sh");
        lifeline.started();
        (child, lifeline)
    }

    #[tokio::test]
    async fn a_cut_lifeline_kills_the_whole_tree_even_what_left_the_session() {
        // sh runs a sleep in its group and one in a session of its own (as Ansible's
        // workers do), then says so.
        let (mut child, lifeline) = supervised("sleep 1000 & setsid sleep 1000 & echo up; wait");
        let supervisor = child.id().expect("pid");
        let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        assert_eq!(out.next_line().await.expect("read").as_deref(), Some("up"));
        let below = procs::tree(supervisor);
        assert!(
            below.len() >= 3,
            "sh and two sleeps below the supervisor: {below:?}"
        );

        // The daemon "dies": its end of the lifeline closes.
        drop(lifeline);
        let status = child.wait().await.expect("wait");
        assert_eq!(status.code(), Some(ORPHANED), "{status:?}");
        // The supervisor exits only once it has reaped every process below it.
        let left: Vec<_> = below.iter().filter(|p| procs::alive(p)).collect();
        assert!(left.is_empty(), "survived the supervisor: {left:?}");
    }

    #[tokio::test]
    async fn the_supervisor_exits_as_its_child_did() {
        for (script, code) in [("exit 0", 0), ("exit 3", 3), ("kill -TERM $$", 128 + 15)] {
            let (mut child, _lifeline) = supervised(script);
            let status = child.wait().await.expect("wait");
            assert_eq!(status.code(), Some(code), "{script}: {status:?}");
        }
        let (mut child, _lifeline) = supervised("kill -KILL $$");
        let status = child.wait().await.expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }

    #[test]
    fn pids_parse_and_junk_does_not() {
        assert_eq!(parse_int(b"4242"), Some(4242));
        assert_eq!(parse_int(b"self"), None);
        assert_eq!(parse_int(b""), None);
        assert_eq!(parse_int(b"12345678901"), None);
    }

    #[test]
    fn the_parent_of_this_process_is_read_from_proc() {
        let proc_dir = openat(
            CWD,
            c"/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("/proc");
        let me = std::ffi::CString::new(std::process::id().to_string()).expect("pid");
        let parent = getppid().map(Pid::as_raw_pid);
        assert_eq!(parent_of(proc_dir.as_fd(), &me), parent);
        let mut seen_self = false;
        if let Some(parent) = getppid() {
            for_each_child(parent, |pid| seen_self |= pid == getpid());
        }
        assert!(seen_self, "this process is a child of its parent");
    }
}
