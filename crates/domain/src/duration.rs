//! Duration strings as flags, environment variables and config files write them.

use std::time::Duration;

/// Parses `60s`, `500ms`, `2m`, `1h30m` or a bare number of seconds. The error
/// quotes the input and shows the accepted forms.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("invalid duration `{s}` ({e}); use e.g. 60s, 500ms, 2m"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_accepted_form() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(" 15 "), Ok(Duration::from_secs(15)));
        assert!(parse_duration("soon").unwrap_err().contains("soon"));
        assert_eq!(parse_duration("  "), Err("empty duration".to_string()));
    }
}
