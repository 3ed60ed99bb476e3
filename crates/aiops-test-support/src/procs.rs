//! Processes as `/proc` shows them (Linux), for tests that check what a run left alive.
//! A process is identified by its pid *and* start time, so a reused pid is never taken for
//! the process a test saw before.

/// One process at the moment it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start: String,
    /// The command name (at most 15 characters, as the kernel keeps it).
    pub comm: String,
    /// The state letter (`R`, `S`, `Z`, …).
    pub state: String,
}

/// `pid` as it is now, if it exists.
pub fn stat(pid: u32) -> Option<Proc> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    Some(Proc {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.to_string(),
        comm: text.get(open + 1..close)?.to_string(),
        state: fields.first()?.to_string(),
    })
}

/// Every pid in `/proc` now.
pub fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Every process below `root` now (children, their children, …).
pub fn tree(root: u32) -> Vec<Proc> {
    let procs: Vec<Proc> = pids().into_iter().filter_map(stat).collect();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for p in procs.iter().filter(|p| p.ppid == parent) {
            out.push(p.clone());
            frontier.push(p.pid);
        }
    }
    out
}

/// Whether the very process `p` (same pid and start time) is still alive (not a zombie).
pub fn alive(p: &Proc) -> bool {
    stat(p.pid).is_some_and(|now| now.start == p.start && now.state != "Z")
}

/// Live processes (zombies left out) with an environment entry starting with `prefix`
/// (only this user's processes can be read).
pub fn with_env_prefix(prefix: &str) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|&b| b == 0)
                    .any(|e| e.starts_with(prefix.as_bytes()))
            }) && stat(*pid).is_some_and(|p| p.state != "Z")
        })
        .collect()
}
