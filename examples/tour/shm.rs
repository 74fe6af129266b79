//! The shared-memory part of the tour: a segment written and read through attach guards,
//! removed while attached, and freed by its last detach — each step printed with the C call
//! it stands for; then the classic pairing of a ring buffer in a segment with two semaphores.

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

/// The classic pairing: a ring buffer in a segment and two semaphores, one counting free
/// slots and one counting filled ones, a producer and a consumer each in its own task.
pub(crate) async fn ring_buffer() -> Result<(), Box<dyn std::error::Error>> {
    use svipc::SemOp;

    const SLOTS: usize = 8;
    const ITEMS: u64 = 1000;
    const FREE: u16 = 0;
    const FILLED: u16 = 1;
    println!("\n== a ring buffer in shared memory, counted by two semaphores ==");
    let ns = Namespace::new();
    let key = Key::new(0x7269_6e67); // "ring"
    let producer = ns.process(Credentials::new(1000, 1000).with_pid(300));
    let consumer = ns.process(Credentials::new(1000, 1000).with_pid(301));

    // shmget + semget with the same key (each kind has its own table), then
    // semctl(SETVAL): every slot free, none filled.
    let seg = producer.shm_segment(key).size(SLOTS * 8).create(0o600).open()?;
    let sems = producer.sem_set(key).nsems(2).create(0o600).open()?;
    sems.set_val(FREE, SLOTS as u16)?;

    let put = {
        let seg = producer.shm_segment_by_id(seg.id())?;
        let sems = producer.sem_set(key).open()?;
        tokio::spawn(async move {
            let ring = seg.attach()?; // shmat
            for i in 0..ITEMS {
                sems.semop(&[SemOp::new(FREE, -1)]).await?; // wait for a free slot
                ring.write_at((i as usize % SLOTS) * 8, &i.to_le_bytes())?;
                sems.semop(&[SemOp::new(FILLED, 1)]).await?; // publish it
            }
            Ok::<_, svipc::Error>(())
        })
    };
    let take = {
        let seg = consumer.shm_segment(key).open()?;
        let sems = consumer.sem_set(key).open()?;
        tokio::spawn(async move {
            let ring = seg.attach_read_only()?; // shmat(SHM_RDONLY)
            let mut sum = 0u64;
            for i in 0..ITEMS {
                sems.semop(&[SemOp::new(FILLED, -1)]).await?; // wait for a filled slot
                let mut bytes = [0u8; 8];
                ring.read_at((i as usize % SLOTS) * 8, &mut bytes)?;
                sum += u64::from_le_bytes(bytes);
                sems.semop(&[SemOp::new(FREE, 1)]).await?; // hand the slot back
            }
            Ok::<_, svipc::Error>(sum)
        })
    };
    put.await??;
    let sum = take.await??;
    assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    println!(
        "{ITEMS} items through {SLOTS} slots, sum {sum}; semaphores now free {} filled {}, last semop by pid {}",
        sems.get_val(FREE)?,
        sems.get_val(FILLED)?,
        sems.get_pid(FREE)?
    );
    seg.remove()?; // shmctl(IPC_RMID): no guard left, destroyed at once
    sems.remove()?; // semctl(IPC_RMID)
    print!("{}", ns.ipcs());
    Ok(())
}
