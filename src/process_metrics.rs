//! The standard `process_*` series and `bailiwick_build_info`, read from
//! `/proc/self` when `/metrics` is asked for: what an operator's dashboards
//! expect of any daemon (memory, CPU, descriptors, start time, version).

use std::fmt::Write;

/// The fields of `/proc/self/stat` the series need.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    /// User and system CPU time, in clock ticks.
    cpu_ticks: u64,
    /// Start, in clock ticks after boot.
    start_ticks: u64,
    virtual_bytes: u64,
    resident_pages: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses
/// and may hold spaces and parentheses itself, so fields are counted from
/// the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state): field n is f[n - 3].
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        cpu_ticks: field(14)? + field(15)?,
        start_ticks: field(22)?,
        virtual_bytes: field(23)?,
        resident_pages: field(24)?,
    })
}

/// Seconds since the epoch at boot, from `/proc/stat`'s `btime`.
fn boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf takes no pointers and only reads its argument.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|v| *v > 0)
}

fn max_fds() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the local it is given.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    ok.then_some(lim.rlim_cur)
}

/// Appends the series; any that cannot be read is left out, not guessed.
pub fn render(out: &mut String) {
    let mut series: Vec<(&str, &str, &str, String)> = Vec::new();
    let stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| parse_stat(&t));
    let ticks = sysconf(libc::_SC_CLK_TCK);
    if let (Some(s), Some(hz)) = (&stat, ticks) {
        series.push((
            "process_cpu_seconds_total",
            "User and system CPU time spent, in seconds.",
            "counter",
            format!("{}", s.cpu_ticks as f64 / hz as f64),
        ));
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| boot_time(&t));
        if let Some(boot) = boot {
            series.push((
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds.",
                "gauge",
                format!("{}", boot as f64 + s.start_ticks as f64 / hz as f64),
            ));
        }
    }
    if let (Some(s), Some(page)) = (&stat, sysconf(libc::_SC_PAGESIZE)) {
        series.push((
            "process_resident_memory_bytes",
            "Resident memory size, in bytes.",
            "gauge",
            (s.resident_pages * page).to_string(),
        ));
    }
    if let Some(s) = &stat {
        series.push((
            "process_virtual_memory_bytes",
            "Virtual memory size, in bytes.",
            "gauge",
            s.virtual_bytes.to_string(),
        ));
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        series.push((
            "process_open_fds",
            "Open file descriptors.",
            "gauge",
            dir.count().to_string(),
        ));
    }
    if let Some(max) = max_fds() {
        series.push((
            "process_max_fds",
            "Most open file descriptors allowed.",
            "gauge",
            max.to_string(),
        ));
    }
    for (name, help, kind, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    }
    let _ = writeln!(
        out,
        "# HELP bailiwick_build_info The running version (always 1)."
    );
    let _ = writeln!(out, "# TYPE bailiwick_build_info gauge");
    let _ = writeln!(
        out,
        "bailiwick_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        // A command name with a space and a parenthesis of its own.
        let line = "4242 (bail (wick) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    150 50 0 0 20 0 9 0 12345 987654321 2048 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                cpu_ticks: 200,
                start_ticks: 12345,
                virtual_bytes: 987654321,
                resident_pages: 2048,
            })
        );
        assert_eq!(parse_stat("4242 (x) S 1"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn boot_time_is_read_from_btime() {
        assert_eq!(
            boot_time("cpu 1 2 3\nbtime 1733300000\nprocesses 9\n"),
            Some(1733300000)
        );
        assert_eq!(boot_time("cpu 1 2 3\n"), None);
    }

    #[test]
    fn this_process_is_rendered() {
        let mut out = String::new();
        render(&mut out);
        let value = |name: &str| -> f64 {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("no {name} in\n{out}"))
                .parse()
                .unwrap()
        };
        assert!(value("process_resident_memory_bytes") > 1e6);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 86_400.0 * 365.0,
            "{started}"
        );
        assert!(out.contains(&format!(
            "bailiwick_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )));
    }
}
