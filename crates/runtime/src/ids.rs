//! Run ids: generated from the wall clock, or given by a client and checked.

/// A run id from the wall clock: `<prefix>-YYYYMMDDTHHMMSSZ-<4 hex>`.
pub fn new_run_id(prefix: &str) -> String {
    let now = std::time::SystemTime::now();
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    // `2026-12-02T18:40:00Z` → `20261202T184000Z`.
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    format!("{prefix}-{stamp}-{:04x}", nanos % 0x10000)
}

/// The client's run id when it is a safe name (letters, digits, `-`, `_`, `.`,
/// at most 128 characters: it becomes a folder and part of keys), a new one
/// when it is empty.
pub fn run_id_or_new(given: &str, prefix: &str) -> Result<String, &'static str> {
    if given.is_empty() {
        return Ok(new_run_id(prefix));
    }
    if given.len() > 128
        || !given
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || given.starts_with('.')
    {
        return Err(
            "only letters, digits, `-`, `_` and `.` are allowed (at most 128, not starting with `.`)",
        );
    }
    Ok(given.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_generated_or_checked() {
        let id = run_id_or_new("", "soak").unwrap();
        assert_eq!(id.len(), "soak-20261122T101010Z-abcd".len(), "{id}");
        let b = id.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        assert!(
            id.starts_with("soak-") && digits(5..13) && digits(14..20),
            "{id}"
        );
        assert_eq!((b[13], b[20], b[21]), (b'T', b'Z', b'-'), "{id}");
        assert!(b[22..].iter().all(u8::is_ascii_hexdigit), "{id}");
        assert!(id[5..9].parse::<u32>().unwrap() >= 2024, "{id}");
        assert_eq!(run_id_or_new("nightly-42", "soak").unwrap(), "nightly-42");
        assert!(run_id_or_new("../etc", "soak").is_err());
        assert!(run_id_or_new("a b", "soak").is_err());
    }
}
