//! The domain's tests, beside the code rather than inside it: one file per
//! command module (driving the commands as the store does, through a `Tx`
//! on a `testkit::World`) and the property tests over whole command
//! sequences.

/// What every test file names: the domain's types and the collections.
mod prelude {
    pub(super) use std::collections::BTreeSet;

    pub(super) use crate::ipset::IpSet;
    pub(super) use crate::*;
}

mod assets;
mod credentials;
mod deletion;
mod directory;
mod groups;
mod lifecycle_props;
mod moving;
mod objects;
mod permissions;
mod props;
mod settings;
mod users;
