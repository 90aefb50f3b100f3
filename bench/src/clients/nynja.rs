//! nynja load client (to be written).

use super::{Account, ClientOpts, Connected, Target};

pub async fn connect(_target: &Target, _account: &Account, _opts: ClientOpts) -> anyhow::Result<Connected> {
    anyhow::bail!("not written yet")
}
