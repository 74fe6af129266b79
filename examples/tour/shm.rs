//! The shared-memory part of the tour: a segment written and read through attach guards,
//! removed while attached, and freed by its last detach — each step printed with the C call
//! it stands for.

use svipc::{Credentials, Key, Namespace};

/// shmget, shmat, the views, IPC_STAT, IPC_RMID while attached, shmdt, SHM_INFO.
pub(crate) fn run() -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== shared memory segments ==");
    let ns = Namespace::new();
    let writer = ns.process(Credentials::new(1000, 1000).with_pid(100));
    let reader = ns.process(Credentials::new(1001, 1000).with_pid(200));
    let key = Key::new(0x5a4d);

    // shmget(key, 100, IPC_CREAT | IPC_EXCL | 0640): 100 bytes asked, one page mapped.
    let seg = writer.shm_segment(key).size(100).create(0o640).exclusive().open()?;
    println!("shmget({key}, 100, IPC_CREAT|IPC_EXCL|0640) = {}", seg.id());

    // shmat(id, NULL, 0): read-write; the guard's drop is shmdt.
    let rw = seg.attach()?;
    // Write through an exclusive view (&mut [u8]): the lock is the semaphore of the C idiom.
    rw.write()[..13].copy_from_slice(b"hello, shm!\0\0");
    println!("shmat(id, NULL, 0), then a write view: wrote {:?}", "hello, shm!");

    // The reader opens the same key (asking for read, 0400) and attaches SHM_RDONLY.
    let theirs = reader.shm_segment(key).mode(0o400).open()?;
    let ro = theirs.attach_read_only()?;
    let text = String::from_utf8_lossy(&ro.read()[..11]).into_owned();
    println!("shmat(id, NULL, SHM_RDONLY), then a read view: {text:?}");
    // A read-write attach needs write permission, which group members lack (0640).
    let err = theirs.attach().unwrap_err();
    println!("shmat(id, NULL, 0) by a group member: {err}");

    // shmctl(IPC_STAT)
    let ds = seg.stat()?;
    println!(
        "shmctl(IPC_STAT): shm_segsz {} (not rounded), shm_nattch {}, shm_cpid {}, shm_lpid {}",
        ds.shm_segsz, ds.shm_nattch, ds.shm_cpid, ds.shm_lpid
    );
    println!("shmctl(SHM_INFO): {} segment(s), {} page(s)", ns.shm_info().used_ids, ns.shm_info().shm_tot);

    // shmctl(IPC_RMID) while attached: SHM_DEST, the key private, the id still valid.
    seg.remove()?;
    let ds = seg.stat()?;
    println!(
        "shmctl(IPC_RMID) while attached: mode {:o} (SHM_DEST), key {}, shm_nattch {}",
        ds.shm_perm.mode, ds.shm_perm.key, ds.shm_nattch
    );
    print!("{}", ns.ipcs()); // ipcs -m: key 0, status "dest"
    let err = reader.shm_segment(key).open().unwrap_err();
    println!("shmget({key}, 0, 0) after IPC_RMID: {err}");
    // Linux still lets an id marked SHM_DEST be attached.
    let late = reader.shm_segment_by_id(seg.id())?.attach_read_only()?;
    println!("shmat(id, NULL, SHM_RDONLY) after IPC_RMID: ok, shm_nattch {}", seg.stat()?.shm_nattch);

    // shmdt, three times: the last one destroys the segment.
    drop(rw);
    drop(ro);
    println!("shmdt x2: shm_nattch {}", seg.stat()?.shm_nattch);
    drop(late);
    println!("shmdt (the last): shmctl(IPC_STAT) now says {}", seg.stat().unwrap_err());
    println!("shmctl(SHM_INFO): {} segment(s), {} page(s)", ns.shm_info().used_ids, ns.shm_info().shm_tot);
    Ok(())
}
