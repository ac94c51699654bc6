//! The one place that maps failures to imconv's stable numeric error codes.
//!
//! Codes reuse Tencent Cloud IM's numbers where the meaning is the same
//! (6017, 6019, 6022, 6027, 6028); imconv's own codes live in 6900..=6999.
//! Codes are never renumbered: wrappers in other languages hard-code them.

use std::ffi::CStr;
use std::fmt;

/// How long a connection waits for a lock another connection holds (SQLite's
/// busy timeout) before its call fails with [`ErrorCode::StoreBusy`]: the
/// bound on how long a stopped or hung process can block another's writes.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A stable error code. The numeric values are part of the public contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    Ok = 0,
    InvalidParameters = 6017,
    Database = 6019,
    Io = 6022,
    InvalidJson = 6027,
    OutOfMemory = 6028,
    Shutdown = 6901,
    StoreLocked = 6902,
    WrongProcess = 6903,
    QueueFull = 6904,
    WouldDeadlock = 6905,
    ReadOnly = 6906,
    Timeout = 6907,
    StoreDamaged = 6908,
    StoreFailed = 6909,
    WrongKey = 6910,
    StoreBusy = 6911,
    Suspended = 6912,
    Internal = 6999,
}

impl ErrorCode {
    /// Every code, for tables and tests.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::Ok,
        ErrorCode::InvalidParameters,
        ErrorCode::Database,
        ErrorCode::Io,
        ErrorCode::InvalidJson,
        ErrorCode::OutOfMemory,
        ErrorCode::Shutdown,
        ErrorCode::StoreLocked,
        ErrorCode::WrongProcess,
        ErrorCode::QueueFull,
        ErrorCode::WouldDeadlock,
        ErrorCode::ReadOnly,
        ErrorCode::Timeout,
        ErrorCode::StoreDamaged,
        ErrorCode::StoreFailed,
        ErrorCode::WrongKey,
        ErrorCode::StoreBusy,
        ErrorCode::Suspended,
        ErrorCode::Internal,
    ];

    pub fn as_i32(self) -> i32 {
        self as i32
    }

    pub fn from_i32(code: i32) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|c| c.as_i32() == code)
    }

    /// A short static description of the code. NUL-terminated so that it can
    /// be lent to C callers without copying.
    pub fn text(self) -> &'static CStr {
        match self {
            ErrorCode::Ok => c"success",
            ErrorCode::InvalidParameters => c"invalid parameters",
            ErrorCode::Database => c"database operation failed",
            ErrorCode::Io => c"IO operation failed",
            ErrorCode::InvalidJson => c"invalid JSON",
            ErrorCode::OutOfMemory => c"out of memory",
            ErrorCode::Shutdown => c"the instance is shutting down",
            ErrorCode::StoreLocked => c"the store is already open in another instance",
            ErrorCode::WrongProcess => {
                c"the instance was created in another process (called after fork)"
            }
            ErrorCode::QueueFull => {
                c"too many calls are waiting: the instance's write or read queue is full"
            }
            ErrorCode::WouldDeadlock => {
                c"the call would wait for a callback that waits for the calling thread"
            }
            ErrorCode::ReadOnly => c"the store cannot be written (or was opened read-only)",
            ErrorCode::Timeout => c"the wait timed out",
            ErrorCode::StoreDamaged => c"the store is damaged: what it holds cannot be trusted",
            ErrorCode::StoreFailed => {
                c"a write to the store failed to reach the disk: it may or may not be stored; reopen to see"
            }
            ErrorCode::WrongKey => {
                c"the store cannot be opened with this encryption key (wrong, missing, or given for a plain store)"
            }
            ErrorCode::StoreBusy => {
                c"the store is busy: another process has held its write lock too long (stopped or hung?)"
            }
            ErrorCode::Suspended => c"the instance is suspended (imconv_suspend): call imconv_resume first",
            ErrorCode::Internal => c"internal error (a panic was caught)",
        }
    }
}

/// Text for a code that is not one of ours.
pub(crate) const UNKNOWN_CODE_TEXT: &CStr = c"unknown error code";

/// An error with its code and a message that names the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        debug_assert!(code != ErrorCode::Ok);
        Error {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_parameters(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::InvalidParameters, message)
    }

    pub fn invalid_json(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::InvalidJson, message)
    }

    pub fn shutdown() -> Error {
        Error::new(
            ErrorCode::Shutdown,
            "the instance shut down before the call completed",
        )
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::Internal, message)
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same message under another code.
    pub fn with_code(mut self, code: ErrorCode) -> Error {
        debug_assert!(code != ErrorCode::Ok);
        self.code = code;
        self
    }

    /// Prefixes the message with context, keeping the code.
    pub fn context(mut self, context: impl fmt::Display) -> Error {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_i32())
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    /// SQLite's own finding of damage ("database disk image is malformed",
    /// "file is not a database") is `StoreDamaged`; the rest `Database`.
    fn from(e: rusqlite::Error) -> Error {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                Error::new(
                    ErrorCode::StoreDamaged,
                    format!("the store is damaged: {e}"),
                )
            }
            // The busy timeout ran out: another process held the write lock
            // (see [`BUSY_TIMEOUT`]).
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Error::new(
                    ErrorCode::StoreBusy,
                    format!(
                        "the store is busy: another process held its write lock for more than \
                         {} s (a process stopped or hung while writing?): retry later ({e})",
                        BUSY_TIMEOUT.as_secs()
                    ),
                )
            }
            _ => Error::new(ErrorCode::Database, format!("database: {e}")),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::OutOfMemory {
            Error::new(ErrorCode::OutOfMemory, format!("out of memory: {e}"))
        } else {
            Error::new(ErrorCode::Io, format!("io: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(ErrorCode::Ok.as_i32(), 0);
        assert_eq!(ErrorCode::InvalidParameters.as_i32(), 6017);
        assert_eq!(ErrorCode::Database.as_i32(), 6019);
        assert_eq!(ErrorCode::Io.as_i32(), 6022);
        assert_eq!(ErrorCode::InvalidJson.as_i32(), 6027);
        assert_eq!(ErrorCode::OutOfMemory.as_i32(), 6028);
        assert_eq!(ErrorCode::Shutdown.as_i32(), 6901);
        assert_eq!(ErrorCode::StoreLocked.as_i32(), 6902);
        assert_eq!(ErrorCode::WrongProcess.as_i32(), 6903);
        assert_eq!(ErrorCode::StoreDamaged.as_i32(), 6908);
        assert_eq!(ErrorCode::StoreFailed.as_i32(), 6909);
        assert_eq!(ErrorCode::WrongKey.as_i32(), 6910);
        assert_eq!(ErrorCode::Internal.as_i32(), 6999);
    }

    #[test]
    fn every_code_round_trips_and_has_distinct_text() {
        let mut texts = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_i32(c.as_i32()), Some(c));
            assert!(texts.insert(c.text()), "duplicate text for {c:?}");
        }
        assert_eq!(ErrorCode::from_i32(1234), None);
    }

    #[test]
    fn context_keeps_code() {
        let e = Error::invalid_json("expected an array").context("element 3");
        assert_eq!(e.code(), ErrorCode::InvalidJson);
        assert_eq!(e.message(), "element 3: expected an array");
    }
}
