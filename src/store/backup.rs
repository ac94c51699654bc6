//! Online backups: a consistent copy of the whole store, written beside
//! its destination under a temporary name, synced, then renamed into
//! place, so that the destination is either the old file or the whole new
//! copy, never part of one.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::Store;
use crate::error::{Error, ErrorCode, Result};
use crate::platform;

impl Store {
    /// Writes what is committed now to `path` (replacing a file there) with
    /// SQLite's `VACUUM INTO`: one consistent snapshot, compacted, that
    /// opens as a store on its own. Runs outside any transaction; the
    /// caller holds the store (no write commits meanwhile).
    pub fn backup_to(&self, path: &Path) -> Result<()> {
        let io = |what: &str, e: std::io::Error| {
            Error::from(e).context(format_args!("backup to {}: {what}", path.display()))
        };
        let Some(name) = path.file_name() else {
            return Err(Error::invalid_parameters(format!(
                "backup to {}: the path names no file",
                path.display()
            )));
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(Error::new(
                ErrorCode::Io,
                format!(
                    "backup to {}: the folder {} does not exist",
                    path.display(),
                    parent.display()
                ),
            ));
        }
        if path.is_dir() {
            return Err(Error::new(
                ErrorCode::Io,
                format!("backup to {}: a folder is there", path.display()),
            ));
        }
        let tmp = parent.join(format!(".{}.imconv-backup", name.to_string_lossy()));
        let Some(tmp_text) = tmp.to_str() else {
            return Err(Error::invalid_parameters(format!(
                "backup to {}: the path is not valid UTF-8",
                path.display()
            )));
        };
        let _ = fs::remove_file(&tmp);
        let written = (|| {
            self.conn
                .execute("VACUUM INTO ?1", [tmp_text])
                .map_err(|e| {
                    Error::from(e).context(format_args!("backup to {}", path.display()))
                })?;
            // Owner-only like the store; synced before it takes the name,
            // and the name's entry synced after.
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))
                .map_err(|e| io("setting its mode", e))?;
            fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| io("syncing it", e))?;
            fs::rename(&tmp, path).map_err(|e| io("renaming it into place", e))?;
            platform::sync_dir(&parent).map_err(|e| io("syncing its folder", e))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }
}
