//! A tokio server and C clients over a message queue of the host kernel, started by one
//! command:
//!
//! ```console
//! cargo run --example host_server
//! ```
//!
//! The example builds `examples/host_server/client.c` with the system C compiler (`cc`, or
//! `$CC`), creates a private queue on the host (`msgget(IPC_PRIVATE)`), starts three C
//! clients with its id, and serves them: each request is a plain `#[repr(C)]` struct of type 1, each
//! answer goes back with the client's pid as its type, which is how the client's `msgrcv`
//! picks its own answers. The queue is removed at the end (`ipcs -q` shows nothing left).
//! Linux only (and not under `--cfg loom`, where the host backend is not built).

#[cfg(all(target_os = "linux", not(loom)))]
mod server {
    use std::process::Command;

    use bytemuck::{Pod, Zeroable};
    use svipc::host::Host;
    use svipc::msg::SizeOf;
    use svipc::{Key, Select};

    /// `struct request { int32_t client; int32_t a; int32_t b; }` in client.c.
    #[derive(Clone, Copy, Pod, Zeroable)]
    #[repr(C)]
    struct Request {
        client: i32,
        a: i32,
        b: i32,
    }

    /// `struct reply { int64_t sum; }`.
    #[derive(Clone, Copy, Pod, Zeroable)]
    #[repr(C)]
    struct Reply {
        sum: i64,
    }

    const CLIENTS: usize = 3;
    const PER_CLIENT: usize = 100;

    pub fn main() -> Result<(), Box<dyn std::error::Error>> {
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/host_server/client.c");
        let exe = std::env::temp_dir().join(format!("svipc_host_client_{}", std::process::id()));
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        match Command::new(&cc).arg("-O2").arg("-o").arg(&exe).arg(src).status() {
            Ok(s) if s.success() => {}
            r => {
                println!("no C compiler (`{cc}`: {r:?}): the example needs one to build its C clients");
                return Ok(());
            }
        }

        let me = Host::current();
        let requests = me.msg_queue::<SizeOf<Request>>(Key::PRIVATE).create(0o600).open()?;
        let replies = me.msg_queue_by_id::<SizeOf<Reply>>(requests.id())?;
        println!("queue {} on the host kernel; starting {CLIENTS} C clients", requests.id());
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| Command::new(&exe).args([requests.id().to_string(), PER_CLIENT.to_string()]).spawn())
            .collect::<Result<_, _>>()?;

        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let served = rt.block_on(async {
            let mut served = 0;
            while served < CLIENTS * PER_CLIENT {
                let (_, SizeOf(req)) = requests.recv(Select::Type(1)).await?;
                let sum = i64::from(req.a) + i64::from(req.b);
                replies.send(i64::from(req.client), SizeOf(Reply { sum })).await?;
                served += 1;
            }
            Ok::<_, Box<dyn std::error::Error>>(served)
        });
        let mut ok = served.is_ok();
        for mut c in clients {
            ok &= c.wait()?.success();
        }
        requests.remove()?;
        let _ = std::fs::remove_file(&exe);
        let served = served?;
        assert!(ok, "a C client failed");
        println!("served {served} requests from {CLIENTS} C clients; queue removed");
        Ok(())
    }
}

#[cfg(all(target_os = "linux", not(loom)))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    server::main()
}

#[cfg(not(all(target_os = "linux", not(loom))))]
fn main() {
    println!("svipc::host is Linux only");
}
