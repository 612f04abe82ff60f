//! Writing artifacts: JSON and text files under `artifacts/`, and the `latest`
//! link of a phase. Every error names the file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{ClientError, ClientResult};

/// Creates `dir` and its parents.
pub fn create_dir(dir: &Path) -> ClientResult<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| ClientError::Usage(format!("cannot create {}: {e}", dir.display())))
}

/// Writes `value` as pretty JSON (with a trailing newline).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> ClientResult<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| ClientError::Service(format!("cannot serialise {}: {e}", path.display())))?;
    text.push('\n');
    write_text(path, &text)
}

/// Writes a text file.
pub fn write_text(path: &Path, text: &str) -> ClientResult<()> {
    std::fs::write(path, text)
        .map_err(|e| ClientError::Usage(format!("cannot write {}: {e}", path.display())))
}

/// Points `<parent>/latest` at `<parent>/<name>` (a relative symlink where the
/// platform has them, otherwise a `latest` file holding the name).
pub fn update_latest(parent: &Path, name: &str) -> ClientResult<PathBuf> {
    let link = parent.join("latest");
    #[cfg(unix)]
    {
        // A new link under a name of its own, renamed over the old one: the
        // swap is atomic, so runs finishing at once into the same folder
        // never race (a remove-then-link did: `File exists`). A real
        // directory named `latest` is left alone (the rename fails).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = parent.join(format!(".latest.{}.{nanos}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(name, &tmp)
            .map_err(|e| ClientError::Usage(format!("cannot link {}: {e}", tmp.display())))?;
        if let Err(e) = std::fs::rename(&tmp, &link) {
            let _ = std::fs::remove_file(&tmp);
            return Err(ClientError::Usage(format!(
                "cannot link {}: {e}",
                link.display()
            )));
        }
    }
    #[cfg(not(unix))]
    {
        // Replace an old file; a real directory named `latest` is left alone.
        if let Ok(meta) = std::fs::symlink_metadata(&link)
            && !meta.is_dir()
        {
            let _ = std::fs::remove_file(&link);
        }
        write_text(&link, name)?;
    }
    Ok(link)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// Runs finishing at once into the same folder all point `latest`
    /// somewhere (never `File exists`), and it ends at one of them.
    #[test]
    fn latest_is_swapped_atomically_by_runs_finishing_at_once() {
        let dir = std::env::temp_dir().join(format!("latest-race-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let names: Vec<String> = (0..8).map(|i| format!("run-{i}")).collect();
        std::thread::scope(|s| {
            for n in &names {
                let dir = &dir;
                s.spawn(move || {
                    for _ in 0..200 {
                        update_latest(dir, n).unwrap();
                    }
                });
            }
        });
        let target = std::fs::read_link(dir.join("latest")).unwrap();
        assert!(names.iter().any(|n| target == Path::new(n)), "{target:?}");
        update_latest(&dir, "final").unwrap();
        assert_eq!(
            std::fs::read_link(dir.join("latest")).unwrap(),
            Path::new("final")
        );
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("latest")],
            "no temporary links left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
