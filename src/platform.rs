//! What depends on the operating system, in one place: private folders and
//! files, file modes, the event descriptor of host-driven delivery, and
//! which I/O errors mean "cannot be written". Unix only today (tested on
//! Linux x86-64; written for Linux, Android and macOS alike). The other
//! Unix-only piece is the fork handler, in `ffi/sdk.rs` (it is C ABI).

#[cfg(not(unix))]
compile_error!(
    "imconv needs a Unix system (Linux, Android, macOS): see docs/internals.md, Portability"
);

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// Creates a folder and its missing parents, owner-only (0700), durably:
/// a folder's entry lives in its parent, so each parent of a folder made
/// here is synced (a power cut cannot lose a store whose writes were
/// acknowledged by losing its folder).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d);
        at = d.parent();
    }
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    for made in missing.iter().rev() {
        sync_dir(made.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

/// Makes a folder's entries (files created, removed) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// Makes what was written to a file durable (its data; fdatasync).
pub fn sync_file_data(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_data()
}

/// Creates a file owner-only (0600); an existing one is left as it is.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Open flag: fail on a symbolic link instead of following it.
pub const NO_FOLLOW: i32 = libc::O_NOFOLLOW;

/// A file's permission bits, when it exists (a symbolic link's own, never
/// its target's).
pub fn mode(path: &Path) -> Option<u32> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Whether an I/O error means the file cannot be written by this process.
pub fn is_permission_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES) | Some(libc::EROFS) | Some(libc::EPERM)
    )
}

/// A file's descriptor (for the fork handler's list).
pub fn raw_fd(file: &File) -> i32 {
    file.as_raw_fd()
}

/// Host-driven delivery's signal: a socket pair whose read end is readable
/// while something waits.
pub struct EventPair {
    signal: UnixDatagram,
    readable: UnixDatagram,
}

impl EventPair {
    pub fn new() -> io::Result<EventPair> {
        let (signal, readable) = UnixDatagram::pair()?;
        signal.set_nonblocking(true)?;
        readable.set_nonblocking(true)?;
        Ok(EventPair { signal, readable })
    }

    /// Makes the read end readable (a full buffer already is).
    pub fn notify(&self) {
        let _ = self.signal.send(&[1]);
    }

    /// Makes it not readable again.
    pub fn clear(&self) {
        let mut buf = [0u8; 64];
        while self.readable.recv(&mut buf).is_ok() {}
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> i32 {
        self.readable.as_raw_fd()
    }
}
