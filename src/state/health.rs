//! The store's health: problems found in it (damage, a failed sync), told
//! to listeners once each, and the fail-stop after a write that may or may
//! not have reached the disk.
//!
//! The state posts nothing itself: the engine installs a hook that queues
//! the problems found on the callback thread ([`Health::set_hook`]).

use std::collections::HashSet;
use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::error::{Error, ErrorCode};
use crate::events::StoreProblem;

type Hook = Box<dyn Fn() + Send + Sync>;

#[derive(Default)]
pub struct Health {
    inner: Mutex<Inner>,
    /// Called (outside the lock) when a problem is waiting to be told.
    hook: OnceLock<Hook>,
}

#[derive(Default)]
struct Inner {
    /// Problems told already, by key (a damaged conversation's ID, or the
    /// part of the store that is damaged): each is told once.
    told: HashSet<String>,
    waiting: Vec<StoreProblem>,
    /// Why writes are refused: a commit whose outcome is unknown.
    failed: Option<Error>,
}

impl Health {
    /// Installs what runs when a problem waits to be told (once).
    pub fn set_hook(&self, hook: Hook) {
        let _ = self.hook.set(hook);
    }

    /// Records a problem under `key`; a key told before is not told again.
    pub fn report(&self, key: &str, problem: StoreProblem) {
        {
            let mut inner = self.inner.lock();
            if !inner.told.insert(key.to_string()) {
                return;
            }
            // Logged as found (a damaged row left out of a page fails no
            // call, so nothing else would log it).
            crate::log::warn(format_args!(
                "store problem: {} ({})",
                problem.message,
                problem.code.as_i32()
            ));
            inner.waiting.push(problem);
        }
        if let Some(hook) = self.hook.get() {
            hook();
        }
    }

    /// The problems waiting to be told, oldest first.
    pub fn take(&self) -> Vec<StoreProblem> {
        std::mem::take(&mut self.inner.lock().waiting)
    }

    /// Damage found in conversation `id` (or, `id` empty, in a part of the
    /// store `e` names): told once, by ID.
    pub fn damaged(&self, id: Option<&str>, e: &Error) {
        let key = match id {
            Some(id) => format!("damaged:{id}"),
            None => format!("damaged:{}", e.message()),
        };
        self.report(
            &key,
            StoreProblem {
                code: ErrorCode::StoreDamaged,
                message: e.message().to_string(),
                ids: id.map(|id| vec![id.to_string()]).unwrap_or_default(),
            },
        );
    }

    /// A damaged conversation was replaced by a write: damage found in it
    /// later is a new problem, told again.
    pub fn repaired(&self, id: &str) {
        crate::log::info(format_args!("conversation {id}: repaired (replaced whole)"));
        self.inner.lock().told.remove(&format!("damaged:{id}"));
    }

    /// A write's outcome is unknown (its sync failed): every later write is
    /// refused until the store is opened again. Returns the error the
    /// failed write answers with.
    pub fn fail(&self, cause: &Error) -> Error {
        let e = Error::new(
            ErrorCode::StoreFailed,
            format!(
                "{}; this instance takes no more writes (fail-stop): free it and open the store \
                 again to see what it holds",
                cause.message()
            ),
        );
        let first = {
            let mut inner = self.inner.lock();
            inner.failed.get_or_insert_with(|| e.clone());
            !inner.told.contains("failed")
        };
        if first {
            self.report(
                "failed",
                StoreProblem {
                    code: ErrorCode::StoreFailed,
                    message: e.message().to_string(),
                    ids: Vec::new(),
                },
            );
        }
        e
    }

    /// Why writes are refused, once the store failed.
    pub fn check_writable(&self) -> Result<(), Error> {
        match &self.inner.lock().failed {
            None => Ok(()),
            Some(e) => Err(Error::new(
                ErrorCode::StoreFailed,
                format!(
                    "refused: an earlier write failed to reach the disk ({})",
                    e.message()
                ),
            )),
        }
    }

    pub fn has_failed(&self) -> bool {
        self.inner.lock().failed.is_some()
    }
}
