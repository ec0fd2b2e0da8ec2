//! The process's open-file limit, which bounds the files a source may follow and the
//! connections it may hold at once.

/// The soft limit on open files of this process (`RLIMIT_NOFILE`), if it has one: read
/// from `/proc/self/limits` (Linux), the one place it can be read without unsafe code.
pub fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    soft_nofile(&text)
}

fn soft_nofile(limits: &str) -> Option<u64> {
    let l = limits.lines().find(|l| l.starts_with("Max open files"))?;
    // `Max open files            1024                 524288               files`
    l["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_open_file_limit_is_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             63439                63439                processes\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(soft_nofile(limits), Some(1024));
        assert_eq!(
            soft_nofile(
                "Max open files            unlimited            unlimited            files\n"
            ),
            None
        );
        assert!(open_file_limit().is_some());
    }
}
