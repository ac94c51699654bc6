//! Removing one user's store whole (`imconv_delete_store`): for a lost key,
//! or a user who asks to be forgotten.
//!
//! The store's folder is locked (refused while any instance, in any
//! process, has it open), renamed to a hidden name in its parent (one
//! atomic, synced step: from then on the store is gone, and a crash cannot
//! bring back part of it, such as a WAL without its database), then removed
//! file by file, and the parent synced again. A removal cut short leaves
//! only the hidden folder, which the next delete or open removes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::lock::refuse_links;
use super::restore::lock_existing;
use super::DATABASE_FILE;
use crate::error::{Error, Result};
use crate::platform;

/// Removes the store in `dir`. Returns whether there was one.
pub fn delete_store(dir: &Path) -> Result<bool> {
    let Some(parent) = dir.parent() else {
        return Ok(false);
    };
    let step = |what: &str, e: io::Error| {
        Error::from(e).context(format_args!("deleting the store {}: {what}", dir.display()))
    };
    remove_leftover(dir).map_err(|e| step("removing what an earlier delete left", e))?;
    if fs::symlink_metadata(dir).is_err() {
        return Ok(false);
    }
    refuse_links(dir)?;
    let lock = lock_existing(&dir.join(DATABASE_FILE), dir)?;
    let doomed = doomed_name(dir);
    fs::rename(dir, &doomed).map_err(|e| step("renaming it away", e))?;
    platform::sync_dir(parent).map_err(|e| step("syncing its parent folder", e))?;
    drop(lock);
    fs::remove_dir_all(&doomed).map_err(|e| step("removing its files", e))?;
    platform::sync_dir(parent).map_err(|e| step("syncing its parent folder", e))?;
    crate::log::info(format_args!("deleted the store {}", dir.display()));
    Ok(true)
}

/// What a delete cut short left of the store in `dir` (removed at open
/// too, cheaply: one `stat` when there is nothing).
pub fn remove_leftover(dir: &Path) -> io::Result<()> {
    let doomed = doomed_name(dir);
    if fs::symlink_metadata(&doomed).is_ok() {
        fs::remove_dir_all(&doomed)?;
        if let Some(parent) = dir.parent() {
            platform::sync_dir(parent)?;
        }
    }
    Ok(())
}

/// `<parent>/.<folder>.deleted`.
fn doomed_name(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!(".{name}.deleted"))
}
