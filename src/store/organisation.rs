//! The tables of assets, appliances, asset groups, distribution groups,
//! owned objects (R6, R9, R12.1) and service accounts: how their keys are persisted and loaded.
//!
//! The one thing to know: each table appears on first write, and a database
//! written before these tables existed simply loads them empty, so adding
//! them needed no schema migration.

use std::path::Path;

use redb::{TableDefinition, WriteTransaction};

use super::codec::{self, Record};

use super::records::*;
use super::{OpenError, load_table};
use crate::domain::{AssetSet, Key, State};

/// Writes (or removes) the record `key` names, if it is one of these
/// tables'. Returns `false` for keys of other tables.
pub(super) fn persist(
    txn: &WriteTransaction,
    state: &State,
    key: &Key,
) -> Result<bool, redb::Error> {
    fn put<T: Record>(
        txn: &WriteTransaction,
        def: TableDefinition<&str, &[u8]>,
        key: &str,
        value: Option<&T>,
    ) -> Result<bool, redb::Error> {
        let mut t = txn.open_table(def)?;
        match value {
            Some(v) => t.insert(key, codec::encode(v).as_slice()).map(drop)?,
            None => t.remove(key).map(drop)?,
        }
        Ok(true)
    }
    match key {
        Key::Assets => put(txn, ASSETS, KEY_SUBSCRIPTION_ASSETS, Some(&state.assets)),
        Key::UnitAssets(id) => put(txn, UNIT_ASSETS, id, state.unit_assets.get(id)),
        Key::Appliance(id) => put(txn, APPLIANCES, id, state.appliances.get(id)),
        Key::AssetGroup(id) => put(txn, ASSET_GROUPS, id, state.asset_groups.get(id)),
        Key::DistributionGroup(id) => put(
            txn,
            DISTRIBUTION_GROUPS,
            id,
            state.distribution_groups.get(id),
        ),
        Key::Object(id) => put(txn, OBJECTS, id, state.objects.get(id)),
        Key::Service(name) => put(txn, SERVICE_ACCOUNTS, name, state.services.get(name)),
        _ => Ok(false),
    }
}

/// Loads these tables into `state`; missing tables load empty.
pub(super) fn load(
    read: &redb::ReadTransaction,
    path: &Path,
    state: &mut State,
) -> Result<(), OpenError> {
    for (k, a) in load_table::<AssetSet>(read, ASSETS, path)? {
        if k == KEY_SUBSCRIPTION_ASSETS {
            state.assets = a;
        }
    }
    for (id, a) in load_table(read, UNIT_ASSETS, path)? {
        state.unit_assets.insert(id, a);
    }
    for (id, a) in load_table(read, APPLIANCES, path)? {
        state.appliances.insert(id, a);
    }
    for (id, g) in load_table(read, ASSET_GROUPS, path)? {
        state.asset_groups.insert(id, g);
    }
    for (id, g) in load_table(read, DISTRIBUTION_GROUPS, path)? {
        state.distribution_groups.insert(id, g);
    }
    for (id, o) in load_table(read, OBJECTS, path)? {
        state.objects.insert(id, o);
    }
    for (name, s) in load_table(read, SERVICE_ACCOUNTS, path)? {
        state.services.insert(name, s);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::clock::SystemClock;
    use crate::domain::ipset::IpSet;
    use crate::domain::{Actor, AssetGroup, Role, Timestamp};
    use crate::store::{Options, Store};

    use super::*;

    fn open(dir: &Path) -> Store {
        let opts = Options {
            create: true,
            ..Options::default()
        };
        Store::open(dir, &opts, Arc::new(SystemClock)).unwrap()
    }

    fn group() -> AssetGroup {
        AssetGroup {
            id: "g1".into(),
            title: "Web".into(),
            assets: AssetSet {
                ips: IpSet::parse_list("ips", &["10.0.0.0/24", "2001:db8::/64"]).unwrap(),
                domains: ["a.example".to_owned()].into(),
                scanner_appliances: Default::default(),
            },
            business_units: Default::default(),
            owner: "m1".into(),
            created_by_role: Role::Manager,
            created_at: Timestamp::from_unix_micros(1),
        }
    }

    #[test]
    fn assets_and_groups_survive_a_restart_and_removals_persist() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store
            .write_blocking(Actor::operator(), |tx| {
                tx.put_assets(AssetSet {
                    ips: IpSet::parse_list("ips", &["10.0.0.0/16"]).unwrap(),
                    ..AssetSet::default()
                });
                tx.put_asset_group(group());
                tx.put_asset_group(AssetGroup {
                    id: "g2".into(),
                    ..group()
                });
                Ok(())
            })
            .unwrap();
        store
            .write_blocking(Actor::operator(), |tx| {
                tx.remove_asset_group(&"g2".to_owned());
                Ok(())
            })
            .unwrap();
        store.close();
        drop(store);
        let store = open(dir.path());
        let s = store.snapshot();
        assert_eq!(s.assets.ips.to_strings(), ["10.0.0.0/16"]);
        assert_eq!(s.asset_groups.len(), 1);
        assert_eq!(s.asset_groups["g1"], group());
    }

    #[test]
    fn a_database_without_these_tables_opens_with_them_empty() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path()).close();
        {
            // As an older build left it: none of these tables.
            let db = redb::Database::open(dir.path().join(crate::store::DB_FILE)).unwrap();
            let txn = db.begin_write().unwrap();
            for t in [
                ASSETS,
                UNIT_ASSETS,
                APPLIANCES,
                ASSET_GROUPS,
                DISTRIBUTION_GROUPS,
            ] {
                txn.delete_table(t).unwrap();
            }
            txn.commit().unwrap();
        }
        let store = open(dir.path());
        assert!(store.snapshot().asset_groups.is_empty());
        store
            .write_blocking(Actor::operator(), |tx| {
                tx.put_asset_group(group());
                Ok(())
            })
            .unwrap();
        store.close();
        drop(store);
        assert_eq!(open(dir.path()).snapshot().asset_groups.len(), 1);
    }
}
