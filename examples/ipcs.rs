//! `ipcs(1)` for an svipc namespace, written as util-linux writes it: the listing walks
//! `MSG_STAT`, `SHM_STAT` and `SEM_STAT` over the slot indexes `0..=max index` (the return
//! value of `MSG_INFO`, `SHM_INFO`, `SEM_INFO`) through the C-shaped layer (`svipc::c`),
//! and prints what util-linux prints (owners as uids, as `ipcs` does for a uid without a
//! name).
//!
//! The namespace is in-process, so the example first fills one — through the typed API and
//! through the C layer — and at the end checks that its walk found exactly what the typed
//! listing (`Namespace::ipcs`) holds, so both paths are exercised.
//!
//! ```console
//! cargo run --example ipcs            # -a: queues, segments, semaphore arrays
//! cargo run --example ipcs -- -q -s   # some kinds only (-q, -m, -s)
//! cargo run --example ipcs -- -l      # the limits
//! cargo run --example ipcs -- -u      # the usage summary
//! cargo run --example ipcs -- -a -l -u
//! ```

// The C layer is not built under `--cfg loom` (the model checks' configuration).
#[cfg(loom)]
fn main() {}

#[cfg(not(loom))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    ipcs::main()
}

#[cfg(not(loom))]
mod ipcs {
    use std::collections::BTreeSet;
    use std::fmt::Write as _;

    use svipc::c::*;
    use svipc::{Credentials, IpcKind, Key, MessageQueue, Namespace, Process};

    /// Which sections to print.
    #[derive(Default)]
    struct Args {
        queues: bool,
        segments: bool,
        semaphores: bool,
        limits: bool,
        summary: bool,
    }

    fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut a = Args::default();
        for arg in args {
            match arg.as_str() {
                "-q" | "--queues" => a.queues = true,
                "-m" | "--shmems" => a.segments = true,
                "-s" | "--semaphores" => a.semaphores = true,
                "-a" | "--all" => (a.queues, a.segments, a.semaphores) = (true, true, true),
                "-l" | "--limits" => a.limits = true,
                "-u" | "--summary" => a.summary = true,
                other => return Err(format!("ipcs: unknown option {other}; use -q, -m, -s, -a, -l, -u")),
            }
        }
        if !(a.queues || a.segments || a.semaphores || a.limits || a.summary) {
            (a.queues, a.segments, a.semaphores) = (true, true, true);
        }
        Ok(a)
    }

    /// A namespace with something in it: a typed queue and a byte queue, a semaphore set, and
    /// a segment removed while attached (`dest`). Returns the guard that keeps it attached.
    async fn populate(ns: &Namespace) -> Result<ShmAttach, svipc::Error> {
        let root = ns.process(Credentials::new(0, 0));
        let user = ns.process(Credentials::new(1000, 1000));
        let typed: MessageQueue<String> = root.msg_queue(Key::new(0x1234)).create(0o640).open()?;
        typed.send(1, "hello".to_string()).await?;
        let bytes = user.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)?;
        user.msgsnd(bytes, 2, b"abc", 3, 0).await?;
        user.msgsnd(bytes, 3, b"defgh", 5, 0).await?;
        root.semget(IPC_PRIVATE, 3, IPC_CREAT | 0o600)?;
        let shm = root.shmget(0x99, 100, IPC_CREAT | 0o666)?;
        let guard = root.shmat(shm, 0, 0)?;
        root.shmctl(shm, IPC_RMID, ShmctlBuf::Null)?;
        Ok(guard)
    }

    /// One listed object: kind, id, key, mode — what the walk and the typed listing must agree on.
    type Seen = BTreeSet<(IpcKind, i32, i32, u32)>;

    fn queues(me: &Process, out: &mut String, seen: &mut Seen) -> Result<(), svipc::Error> {
        out.push_str("\n------ Message Queues --------\n");
        out.push_str("key        msqid      owner      perms      used-bytes   messages    \n");
        let max = me.msgctl(0, MSG_INFO, MsgctlBuf::Info(&mut msginfo::default()))?;
        for idx in 0..=max {
            let mut ds = msqid_ds::default();
            let Ok(id) = me.msgctl(idx, MSG_STAT, MsgctlBuf::Ds(&mut ds)) else { continue };
            let p = ds.msg_perm;
            seen.insert((IpcKind::MessageQueue, id, p.__key, p.mode));
            let _ = writeln!(
                out,
                "{:#010x} {id:<10} {:<10} {:<10o} {:<12} {:<12}",
                p.__key as u32,
                p.uid,
                p.mode & 0o777,
                ds.msg_cbytes,
                ds.msg_qnum
            );
        }
        Ok(())
    }

    fn segments(me: &Process, out: &mut String, seen: &mut Seen) -> Result<(), svipc::Error> {
        out.push_str("\n------ Shared Memory Segments --------\n");
        out.push_str("key        shmid      owner      perms      bytes      nattch     status      \n");
        let max = me.shmctl(0, SHM_INFO, ShmctlBuf::ShmInfo(&mut shm_info::default()))?;
        for idx in 0..=max {
            let mut ds = shmid_ds::default();
            let Ok(id) = me.shmctl(idx, SHM_STAT, ShmctlBuf::Ds(&mut ds)) else { continue };
            let p = ds.shm_perm;
            seen.insert((IpcKind::SharedMemory, id, p.__key, p.mode));
            let dest = if p.mode & SHM_DEST != 0 { "dest" } else { "" };
            let locked = if p.mode & SHM_LOCKED != 0 { "locked" } else { "" };
            let _ = writeln!(
                out,
                "{:#010x} {id:<10} {:<10} {:<10o} {:<10} {:<10} {dest:<6} {locked:<6}",
                p.__key as u32,
                p.uid,
                p.mode & 0o777,
                ds.shm_segsz,
                ds.shm_nattch
            );
        }
        Ok(())
    }

    fn semaphores(me: &Process, out: &mut String, seen: &mut Seen) -> Result<(), svipc::Error> {
        out.push_str("\n------ Semaphore Arrays --------\n");
        out.push_str("key        semid      owner      perms      nsems     \n");
        let max = me.semctl(0, 0, SEM_INFO, semun::Info(&mut seminfo::default()))?;
        for idx in 0..=max {
            let mut ds = semid_ds::default();
            let Ok(id) = me.semctl(idx, 0, SEM_STAT, semun::Buf(&mut ds)) else { continue };
            let p = ds.sem_perm;
            seen.insert((IpcKind::SemaphoreSet, id, p.__key, p.mode));
            let _ = writeln!(
                out,
                "{:#010x} {id:<10} {:<10} {:<10o} {:<10}",
                p.__key as u32,
                p.uid,
                p.mode & 0o777,
                ds.sem_nsems
            );
        }
        Ok(())
    }

    fn limits(me: &Process, out: &mut String) -> Result<(), svipc::Error> {
        let mut msg = msginfo::default();
        me.msgctl(0, IPC_INFO, MsgctlBuf::Info(&mut msg))?;
        let mut shm = shminfo::default();
        me.shmctl(0, IPC_INFO, ShmctlBuf::Info(&mut shm))?;
        let mut sem = seminfo::default();
        me.semctl(0, 0, IPC_INFO, semun::Info(&mut sem))?;
        // util-linux computes kbytes as pages * (page size / 1024), saturating
        let kb_per_page = (page_size() / 1024).max(1);
        let total_kb = shm.shmall.checked_mul(kb_per_page).unwrap_or(u64::MAX / kb_per_page * kb_per_page);
        let _ = write!(
            out,
            "\n------ Messages Limits --------\n\
             max queues system wide = {}\n\
             max size of message (bytes) = {}\n\
             default max size of queue (bytes) = {}\n\
             \n------ Shared Memory Limits --------\n\
             max number of segments = {}\n\
             max seg size (kbytes) = {}\n\
             max total shared memory (kbytes) = {total_kb}\n\
             min seg size (bytes) = {}\n\
             \n------ Semaphore Limits --------\n\
             max number of arrays = {}\n\
             max semaphores per array = {}\n\
             max semaphores system wide = {}\n\
             max ops per semop call = {}\n\
             semaphore max value = {}\n",
            msg.msgmni,
            msg.msgmax,
            msg.msgmnb,
            shm.shmmni,
            shm.shmmax >> 10,
            shm.shmmin,
            sem.semmni,
            sem.semmsl,
            sem.semmns,
            sem.semopm,
            sem.semvmx,
        );
        Ok(())
    }

    fn summary(me: &Process, out: &mut String) -> Result<(), svipc::Error> {
        let mut msg = msginfo::default();
        me.msgctl(0, MSG_INFO, MsgctlBuf::Info(&mut msg))?;
        let mut shm = shm_info::default();
        me.shmctl(0, SHM_INFO, ShmctlBuf::ShmInfo(&mut shm))?;
        let mut sem = seminfo::default();
        me.semctl(0, 0, SEM_INFO, semun::Info(&mut sem))?;
        let _ = write!(
            out,
            "\n------ Messages Status --------\n\
             allocated queues = {}\n\
             used headers = {}\n\
             used space = {} bytes\n\
             \n------ Shared Memory Status --------\n\
             segments allocated {}\n\
             pages allocated {}\n\
             pages resident  {}\n\
             pages swapped   {}\n\
             Swap performance: {} attempts\t {} successes\n\
             \n------ Semaphore Status --------\n\
             used arrays = {}\n\
             allocated semaphores = {}\n",
            msg.msgpool,
            msg.msgmap,
            msg.msgtql,
            shm.used_ids,
            shm.shm_tot,
            shm.shm_rss,
            shm.shm_swp,
            shm.swap_attempts,
            shm.swap_successes,
            sem.semusz,
            sem.semaem,
        );
        Ok(())
    }

    /// The system's page size, as `ipcs` reads it: `sysconf(_SC_PAGESIZE)`.
    fn page_size() -> u64 {
        // SAFETY: sysconf(3) takes a constant name, touches no memory of ours, and answers -1
        // for a name it does not know; `libc` marks it unsafe only because every foreign
        // function is.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(n).unwrap_or(4096)
    }

    #[tokio::main(flavor = "current_thread")]
    pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
        let args = parse(std::env::args().skip(1))?;
        let ns = Namespace::new();
        let _attached = populate(&ns).await?;
        let me = ns.process(Credentials::new(0, 0));
        let mut out = String::new();
        let mut seen = Seen::new();
        if args.queues {
            queues(&me, &mut out, &mut seen)?;
        }
        if args.segments {
            segments(&me, &mut out, &mut seen)?;
        }
        if args.semaphores {
            semaphores(&me, &mut out, &mut seen)?;
        }
        if args.queues || args.segments || args.semaphores {
            out.push('\n');
        }
        if args.limits {
            limits(&me, &mut out)?;
            out.push('\n');
        }
        if args.summary {
            summary(&me, &mut out)?;
            out.push('\n');
        }
        print!("{out}");

        // The walk by index through the C layer and the typed listing must agree.
        let typed: Seen = ns
            .ipcs()
            .entries()
            .iter()
            .filter(|e| match e.kind {
                IpcKind::MessageQueue => args.queues,
                IpcKind::SharedMemory => args.segments,
                IpcKind::SemaphoreSet => args.semaphores,
            })
            .map(|e| (e.kind, e.id, e.perm.key.raw(), e.perm.mode))
            .collect();
        if typed != seen {
            return Err(format!("the *_STAT walk found {seen:?}, the typed listing holds {typed:?}").into());
        }
        Ok(())
    }
}
