//! A tour of svipc: `cargo run --example tour`.
//!
//! Each part shows one piece of System V IPC as svipc re-builds it in-process, with the C
//! call it stands for. The namespace comes first: keys, actors and their credentials,
//! limits, and the `ipcs`-style listing; the mechanisms' parts follow it.

mod msg;
mod sem;
mod shm;

use svipc::{Capabilities, Credentials, IpcKind, Key, Namespace};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    namespace_part()?;
    msg::run().await?;
    sem::run().await?;
    shm::run()?;
    shm::ring_buffer().await?;
    Ok(())
}

/// Keys, actors, limits, listing: the layer every mechanism stands on.
fn namespace_part() -> Result<(), Box<dyn std::error::Error>> {
    println!("== the namespace ==");
    // unshare(CLONE_NEWIPC): a namespace of our own, so nothing here leaks elsewhere.
    let ns = Namespace::new();

    // ftok(3): a key from a path and a project id, exactly as glibc computes it.
    let key = Key::ftok(std::env::current_exe()?, b'T' as i32)?;
    println!("ftok(this binary, 'T') = {key}");

    // Actors: each has credentials that every permission check reads.
    let me = ns.process(Credentials::current());
    let guest = ns.process(Credentials::new(65534, 65534).with_pid(4242));
    let container_root = ns.process(
        Credentials::new(0, 0).with_capabilities(Capabilities::ALL.without(Capabilities::SYS_RESOURCE)),
    );
    println!("me:    {:?}", me.credentials());
    println!("guest: {:?}", guest.credentials());
    println!("root without CAP_SYS_RESOURCE: {:?}", container_root.credentials().capabilities());

    // The sysctls: kernel.msgmax and friends, per namespace.
    let mut limits = ns.limits();
    println!(
        "MSGMAX {} MSGMNB {} SEMOPM {} SHMMNI {}",
        limits.msgmax, limits.msgmnb, limits.semopm, limits.shmmni
    );
    limits.msgmni = 16;
    ns.set_limits(limits)?;

    // ipcrm -q 0 on an empty namespace: EINVAL, as the kernel says for an unknown id.
    let err = me.remove(IpcKind::MessageQueue, 0).unwrap_err();
    println!("ipcrm -q 0: {err} (errno {})", err.errno());

    // ipcs(1)
    print!("{}", ns.ipcs());
    Ok(())
}
