//! `switchboard-bench`: drives a real Switchboard over loopback with real
//! clients of every dialect and reports what it measured.

mod clients;

fn main() -> anyhow::Result<()> {
    Ok(())
}
