//! The store's folder: its lock (one instance per store, in any process),
//! owner-only permissions, and the move from 0.1.0's folder.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use super::DATABASE_FILE;
use crate::error::{Error, ErrorCode, Result};
use crate::platform;

/// Moves a store from the folder 0.1.0 named after the user ID to the
/// folder this version uses, once: when the new one does not exist and a
/// folder of exactly that name (byte for byte: on a case-insensitive file
/// system "alice" must not adopt "Alice") holds a database.
pub fn adopt_legacy_folder(legacy: &Path, dir: &Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let (Some(parent), Some(name)) = (legacy.parent(), legacy.file_name()) else {
        return Ok(());
    };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(());
    };
    let exact = entries
        .flatten()
        .any(|e| e.file_name().as_encoded_bytes() == name.as_encoded_bytes());
    if exact && legacy.join(DATABASE_FILE).is_file() {
        crate::log::info(format_args!(
            "moving the store {} to {}",
            legacy.display(),
            dir.display()
        ));
        std::fs::rename(legacy, dir).map_err(|e| {
            Error::from(e).context(format_args!(
                "moving the store {} to {}",
                legacy.display(),
                dir.display()
            ))
        })?;
    }
    Ok(())
}

/// The store's lock: `flock` on the database file itself, exclusive for an
/// instance that writes, shared for read-only ones.
///
/// On the database, so deleting a file cannot defeat it (0.1.0 locked a
/// separate LOCK file). `flock`, not POSIX record locks: SQLite's own
/// record locks are per process and it unlocks the whole file at times,
/// which would drop a record lock of ours; `flock` locks are independent
/// of those. An `flock` belongs to the open file, so a child forked without
/// exec would share it and keep the store locked while it lives: the
/// descriptor is listed in `LOCK_FDS`, and the library's fork handler
/// closes the child's copies (`close_lock_fds_in_child`).
pub struct StoreLock {
    /// The database file, and for a shared or read-only instance the file
    /// that marks its mode (see [`LockMode`]), each with its fork slot.
    held: Vec<(File, Option<usize>)>,
}

/// How an instance holds its store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// Alone: `flock` exclusive on the database (no other instance).
    Exclusive,
    /// Read-only, not shared: shared on the database and on the folder;
    /// other such instances may read beside it, nothing else.
    ReadOnly,
    /// `"shared"` (read-write or read-only): shared on the database and
    /// on the change counter's file; other shared instances may open
    /// beside it, nothing else.
    Shared,
}

/// Descriptors of the store locks held in this process (-1: free slot),
/// readable without a lock or an allocation, as a fork handler must.
pub(super) static LOCK_FDS: [AtomicI32; LOCK_SLOTS] = [const { AtomicI32::new(-1) }; LOCK_SLOTS];
/// More stores than this open at once still lock, but a forked child then
/// keeps the extra ones locked while it lives.
pub(super) const LOCK_SLOTS: usize = 256;

/// In a child just forked: hands each inherited lock descriptor to `close`
/// and forgets it, so that the child does not hold its parent's stores.
pub fn close_lock_fds_in_child(mut close: impl FnMut(i32)) {
    for slot in &LOCK_FDS {
        let fd = slot.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            close(fd);
        }
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        for (_, slot) in &self.held {
            if let Some(slot) = slot {
                LOCK_FDS[*slot].store(-1, Ordering::Release);
            }
        }
    }
}

impl StoreLock {
    fn hold(&mut self, file: File) {
        let fd = platform::raw_fd(&file);
        let slot = LOCK_FDS.iter().position(|s| {
            s.compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        });
        self.held.push((file, slot));
    }
}

pub(super) fn locked_elsewhere(dir: &Path) -> Error {
    Error::new(
        ErrorCode::StoreLocked,
        format!(
            "the store {} is already open in another instance (in this or another process)",
            dir.display()
        ),
    )
}

pub(super) fn cannot_be_written(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::ReadOnly,
        format!(
            "the store {} cannot be written ({why}); give the instance write access, or open it \
             with \"read_only\": true to read it",
            path.display()
        ),
    )
}

/// Loosens nothing: removes the group and other bits of `path` when set.
pub(super) fn tighten(path: &Path, mode: u32) {
    let Some(found) = platform::mode(path) else {
        return;
    };
    if found & 0o077 != 0 {
        // Not ours to change (another owner): left as it is.
        match platform::set_mode(path, mode) {
            Ok(()) => crate::log::warn(format_args!(
                "{} was open to other users ({found:o}): now {mode:o}",
                path.display()
            )),
            Err(e) => crate::log::warn(format_args!(
                "{} is open to other users ({found:o}) and could not be changed: {e}",
                path.display()
            )),
        }
    }
}

/// The store's folder and its files are used only as themselves: a
/// symbolic link in their place is refused, never followed (it could point
/// anywhere, and keeping a file owner-only would chmod its target).
pub(super) fn refuse_links(dir: &Path) -> Result<()> {
    let files =
        ["", "-wal", "-shm", "-changes"].map(|suffix| dir.join(format!("{DATABASE_FILE}{suffix}")));
    for path in std::iter::once(dir).chain(files.iter().map(PathBuf::as_path)) {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::new(
                ErrorCode::Io,
                format!(
                    "{} is a symbolic link: a store's folder and files are never used through a \
                     link (put the folder or file itself there)",
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Makes the WAL's side files owner-only again where SQLite gave them a
/// read-only instance's database mode (it does so to an empty one as it
/// opens it), through a descriptor opened without following links.
pub(super) fn tighten_side_files(dir: &Path) {
    for suffix in ["-wal", "-shm"] {
        let path = dir.join(format!("{DATABASE_FILE}{suffix}"));
        if platform::mode(&path).is_some_and(|m| m & 0o077 != 0) {
            let tightened = OpenOptions::new()
                .read(true)
                .custom_flags(platform::NO_FOLLOW)
                .open(&path)
                .and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(0o600)));
            if let Err(e) = tightened {
                crate::log::warn(format_args!(
                    "{} is open to other users and could not be changed: {e}",
                    path.display()
                ));
            }
        }
    }
}

/// Creates the folder and the database file with owner-only permissions
/// (tightening existing ones), takes the lock, and returns the database's
/// path. A read-only instance creates only what SQLite would (the WAL's
/// side files), owner-only too.
pub(super) fn prepare_files(
    dir: &Path,
    read_only: bool,
    mode: LockMode,
) -> Result<(PathBuf, StoreLock)> {
    refuse_links(dir)?;
    let path = dir.join(DATABASE_FILE);
    if read_only {
        if !path.is_file() {
            return Err(Error::new(
                ErrorCode::Io,
                format!("{}: no store to open read-only", path.display()),
            ));
        }
        // SQLite would give them the database's mode (0644 for a database
        // made readable to others); made first, they are 0600. Where the
        // folder cannot be written this fails, and SQLite manages alone.
        for suffix in ["-wal", "-shm"] {
            let _ = platform::create_private_file(&dir.join(format!("{DATABASE_FILE}{suffix}")));
        }
    } else {
        platform::create_private_dir(dir)
            .map_err(|e| Error::from(e).context(format_args!("creating {}", dir.display())))?;
        tighten(dir, 0o700);
        if !path.exists() {
            // SQLite gives its -wal and -shm files the database's mode.
            platform::create_private_file(&path)
                .map_err(|e| Error::from(e).context(format_args!("creating {}", path.display())))?;
        }
        for suffix in ["", "-wal", "-shm"] {
            tighten(&dir.join(format!("{DATABASE_FILE}{suffix}")), 0o600);
        }
    }
    let meta = std::fs::metadata(&path)
        .map_err(|e| Error::from(e).context(format_args!("reading {}", path.display())))?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorCode::Io,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let mut lock = lock_opened(&path, dir, read_only, mode != LockMode::Exclusive)?;
    match mode {
        LockMode::Exclusive => {}
        // Each mode marks itself, then checks that the other is not there
        // (in that order on both sides: two that open at once cannot both
        // miss each other).
        LockMode::ReadOnly => {
            lock.hold(lock_marker(dir, dir)?);
            refuse_marked(&dir.join(super::changes::CHANGES_FILE), dir, "shared")?;
        }
        LockMode::Shared => {
            let counter = dir.join(super::changes::CHANGES_FILE);
            if !counter.exists() {
                platform::create_private_file(&counter).map_err(|e| {
                    Error::from(e).context(format_args!("creating {}", counter.display()))
                })?;
            }
            lock.hold(lock_marker(&counter, dir)?);
            refuse_marked(dir, dir, "read-only (not shared)")?;
        }
    }
    Ok((path, lock))
}

/// Opens `path` (a file, or the store's folder) and locks it shared: the
/// mark of an instance's mode.
fn lock_marker(path: &Path, dir: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(platform::NO_FOLLOW)
        .open(path)
        .map_err(|e| Error::from(e).context(format_args!("opening {}", path.display())))?;
    match file.try_lock_shared() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(locked_elsewhere(dir)),
        Err(TryLockError::Error(e)) => {
            Err(Error::from(e).context(format_args!("locking {}", path.display())))
        }
    }
}

/// Fails when an instance of the other mode holds its mark on `path`: the
/// mark is taken exclusive and let go at once. Two instances of one mode
/// that check at the same moment collide for microseconds, so a refusal
/// is believed only when it lasts (50 tries 1 ms apart).
fn refuse_marked(path: &Path, dir: &Path, other: &str) -> Result<()> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(platform::NO_FOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::from(e).context(format_args!("opening {}", path.display()))),
    };
    for _ in 0..50 {
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                return Ok(());
            }
            Err(TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(1))
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::from(e).context(format_args!("locking {}", path.display())))
            }
        }
    }
    Err(Error::new(
        ErrorCode::StoreLocked,
        format!(
            "the store {} is open {other} in another instance (in this or another process): \
             instances of a store are all \"shared\" or none is",
            dir.display()
        ),
    ))
}

/// Locks a database file that only this instance knows yet (a rekey's new
/// database, before it takes the store's name).
pub(super) fn lock_file(path: &Path) -> Result<StoreLock> {
    lock_opened(path, path.parent().unwrap_or(Path::new(".")), false, false)
}

/// `shared`: `flock` shared (read-only and shared instances), else
/// exclusive.
fn lock_opened(path: &Path, dir: &Path, read_only: bool, shared: bool) -> Result<StoreLock> {
    let file = OpenOptions::new()
        .read(true)
        .write(!read_only)
        .custom_flags(platform::NO_FOLLOW)
        .open(path)
        .map_err(|e| {
            if platform::is_permission_error(&e) {
                cannot_be_written(path, e)
            } else {
                Error::from(e).context(format_args!("opening {}", path.display()))
            }
        })?;
    let locked = if shared {
        file.try_lock_shared()
    } else {
        file.try_lock()
    };
    match locked {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(locked_elsewhere(dir)),
        Err(TryLockError::Error(e)) => {
            return Err(Error::from(e).context(format_args!("locking {}", path.display())))
        }
    }
    let mut lock = StoreLock { held: Vec::new() };
    lock.hold(file);
    Ok(lock)
}
