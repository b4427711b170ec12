//! CPU and memory figures from /proc: the service's, and each guest thread's.

/// Thread ids of this process's guest threads.
pub(crate) fn guest_threads() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.starts_with("guest-"))
        })
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Clock ticks per second of /proc's CPU figures (USER_HZ: 100 on Linux).
pub(crate) const USER_HZ: f64 = 100.0;

/// utime + stime of one of our threads, in seconds.
pub(crate) fn thread_cpu_seconds(tid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    cpu_of_stat(&stat)
}

pub(crate) fn cpu_of_stat(stat: &str) -> Option<f64> {
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// The service's CPU seconds and resident bytes.
pub(crate) fn process_figures() -> Option<(f64, u64)> {
    let cpu = cpu_of_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some((cpu, pages * 4096))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_comes_from_proc_stat() {
        let stat = "42 (guest 1) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_of_stat(stat), Some(3.0));
    }
}
