//! What a process costs, read from `/proc`: RSS, CPU time, the open-files
//! limit, and the machine's load average.

use std::error::Error;
use std::time::Duration;

/// Linux reports process times in `USER_HZ` ticks, which is 100 on every
/// architecture the kernel exposes to user space (`sysconf(_SC_CLK_TCK)`).
const USER_HZ: f64 = 100.0;

/// Resident set size of this process, in bytes (`VmRSS` of `/proc/self/status`).
pub fn rss_bytes() -> Result<u64, Box<dyn Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("/proc/self/status has no VmRSS line")?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib * 1024)
}

/// User plus system CPU time of this process (every thread, live or gone),
/// from `/proc/self/stat`. The kernel derives both from the scheduler's exact
/// runtime; the unit is 10 ms.
pub fn cpu_time() -> Result<Duration, Box<dyn Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) may hold spaces; fields after it are plain.
    let after_name = stat
        .rsplit_once(')')
        .ok_or("/proc/self/stat has no command name")?
        .1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
    let ticks = |i: usize| -> Result<u64, Box<dyn Error>> {
        Ok(fields
            .get(i)
            .ok_or("/proc/self/stat is too short")?
            .parse::<u64>()?)
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_secs_f64(total as f64 / USER_HZ))
}

/// The soft limit on open files of this process (`/proc/self/limits`).
pub fn open_files_limit() -> Result<Option<u64>, Box<dyn Error>> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or("/proc/self/limits has no open-files line")?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()
        .ok_or("/proc/self/limits: open-files line is empty")?;
    Ok(soft.parse().ok()) // "unlimited" → None
}

/// The 1-minute load average of the machine.
pub fn load_average() -> Result<String, Box<dyn Error>> {
    let loadavg = std::fs::read_to_string("/proc/loadavg")?;
    Ok(loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" "))
}
