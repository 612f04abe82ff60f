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
    // Replace an old link or file; a real directory named `latest` is left alone.
    if let Ok(meta) = std::fs::symlink_metadata(&link)
        && !meta.is_dir()
    {
        let _ = std::fs::remove_file(&link);
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(name, &link)
            .map_err(|e| ClientError::Usage(format!("cannot link {}: {e}", link.display())))?;
    }
    #[cfg(not(unix))]
    {
        write_text(&link, name)?;
    }
    Ok(link)
}
