//! The store's problems (damage, a failed sync; see `state::Health`),
//! told to listeners on the callback thread.

use std::sync::Arc;

use super::Core;
use crate::model::Snapshot;

/// Installs the hook through which the state's health posts its problems.
pub(super) fn tell_on_callback_thread<V: Snapshot>(core: &Arc<Core<V>>) {
    let weak = Arc::downgrade(core);
    core.state.health.set_hook(Box::new(move || {
        if let Some(core) = weak.upgrade() {
            core.post_problems();
        }
    }));
}

impl<V: Snapshot> Core<V> {
    /// Problems found while no listener is registered wait for the first
    /// one (a rebuild at open is told that way).
    pub(super) fn post_problems(self: &Arc<Self>) {
        if self.state.listeners.is_empty() {
            return;
        }
        let problems = self.state.health.take();
        if !problems.is_empty() {
            self.post_events(crate::events::Events {
                problems,
                ..Default::default()
            });
        }
    }
}
