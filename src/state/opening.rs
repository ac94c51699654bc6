//! Opening the store for a state: the store itself, its owner checked,
//! its profiles read, and (to rebuild when damaged) its order index
//! audited.

use std::collections::HashMap;
use std::path::Path;

use crate::config::{Config, OnDamage};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{quote, Text};
use crate::store::{delete_store, remove_leftover, Store, StoreOptions};

/// Profiles (name, avatar) by conversation ID.
pub(super) type Profiles = HashMap<String, (Text, Text)>;

/// Removes one user's store whole (see `store::delete_store`): its folder,
/// and a folder 0.1.0 kept for the user (which the next open would adopt).
/// Returns whether there was a store.
pub fn delete_user_store(config: &Config) -> Result<bool> {
    let Some(dir) = config.store_dir() else {
        return Err(Error::invalid_parameters(
            "config has no 'data_dir': a store in memory has nothing to delete",
        ));
    };
    let mut deleted = false;
    if let Some(legacy) = config.legacy_store_dir() {
        if legacy.join("conversations.db").is_file() {
            deleted |= delete_store(&legacy)?;
        }
    }
    deleted |= delete_store(&dir)?;
    Ok(deleted)
}

/// Opens the store and reads what the state keeps of it (its owner
/// checked, its profiles).
pub(super) fn open_store(config: &Config, dir: Option<&Path>) -> Result<(Store, Profiles)> {
    if let (Some(dir), false) = (dir, config.read_only) {
        remove_leftover(dir)
            .map_err(|e| Error::from(e).context("removing what a store's delete left"))?;
    }
    let mut store = Store::open_with(
        dir,
        StoreOptions {
            durability: config.durability,
            read_only: config.read_only,
            key: config.encryption_key.as_ref(),
            shared: config.shared,
        },
    )?;
    if let Some(dir) = dir {
        match store.owner()? {
            Some(owner) if owner != config.user_id => {
                return Err(Error::new(
                    ErrorCode::Database,
                    format!(
                        "the store {} belongs to user_id {}, not {}",
                        dir.display(),
                        quote(&owner),
                        quote(&config.user_id)
                    ),
                ))
            }
            None if !config.read_only => store.set_owner(&config.user_id)?,
            _ => {}
        }
    }
    // Opening to rebuild when damaged: the index is audited now (before
    // the first page otherwise), so that damage there rebuilds too.
    if config.on_damage == OnDamage::Rebuild && !config.read_only {
        store.audit_order_index()?;
    }
    let mut profiles = HashMap::new();
    for (id, name, face) in store.profiles()? {
        profiles.insert(id, (Text::new(&name)?, Text::new(&face)?));
    }
    Ok((store, profiles))
}
