//! Run ids: generated from the wall clock, or given by a client and checked.

/// A run id from the wall clock: `<prefix>-YYYYMMDDTHHMMSSZ-<4 hex>`.
pub fn new_run_id(prefix: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{prefix}-{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z-{:04x}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_nanos() % 0x10000
    )
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
        assert_eq!(run_id_or_new("nightly-42", "soak").unwrap(), "nightly-42");
        assert!(run_id_or_new("../etc", "soak").is_err());
        assert!(run_id_or_new("a b", "soak").is_err());
    }
}
