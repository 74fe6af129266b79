//! A ring buffer in a shared memory segment, counted by two semaphores: `cargo run --example
//! ring_buffer`.
//!
//! The classic System V producer/consumer. The segment holds `SLOTS` fixed-size records;
//! semaphore `FREE` counts the empty slots and `FILLED` the written ones. The producer takes a
//! free slot (`P(FREE)`), writes it, and publishes it (`V(FILLED)`); the consumer takes a
//! filled slot (`P(FILLED)`), reads it, and hands it back (`V(FREE)`). Each side keeps its own
//! index, so no lock is needed beyond the two counts. In C:
//!
//! ```c
//! struct sembuf p_free = { FREE, -1, 0 }, v_filled = { FILLED, 1, 0 };
//! semop(sems, &p_free, 1);  memcpy(ring + (i % SLOTS) * SLOT, rec, SLOT);  semop(sems, &v_filled, 1);
//! ```
//!
//! Here the producer is a plain OS thread calling `blocking_semop`, as a C program would, and
//! the consumer an async task awaiting `semop`; both are actors of their own, the producer
//! attached read-write and the consumer read-only. Records carry variable-length text
//! (a 2-byte length, then the bytes); a record of length 0 ends the stream.
//!
//! Memory ordering: a `semop` that adds to a semaphore happens before the `semop` that takes
//! that unit, so the bytes written before `V(FILLED)` are visible after `P(FILLED)`. The
//! copies themselves (`write_at`, `read_at`) also go through the segment's lock, so no read
//! can tear even if the counting were wrong.
//!
//! Under `--cfg loom` (CI lints every target in that build too) `blocking_semop` does not
//! exist, since loom cannot park a real thread; there the example is an empty `main`.
#![cfg_attr(loom, allow(dead_code, unused_imports))]

use svipc::{Credentials, Key, Namespace, SemOp};

const SLOTS: usize = 4;
const SLOT: usize = 64;
const FREE: u16 = 0;
const FILLED: u16 = 1;
const RECORDS: usize = 200;

fn record(i: usize) -> String {
    format!("record {i}: {}", "*".repeat(i % 40))
}

#[cfg(loom)]
fn main() {}

#[cfg(not(loom))]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ns = Namespace::new();
    let key = Key::new(0x7269_6e67); // "ring": the segment and the set share it (separate tables)
    let producer = ns.process(Credentials::new(1000, 1000).with_pid(300));
    let consumer = ns.process(Credentials::new(1001, 1000).with_pid(301));

    // shmget(key, SLOTS * SLOT, IPC_CREAT | 0640) and semget(key, 2, IPC_CREAT | 0660):
    // the group may read the ring and operate the semaphores. SETVAL: every slot free.
    let seg = producer.shm_segment(key).size(SLOTS * SLOT).create(0o640).open()?;
    let sems = producer.sem_set(key).nsems(2).create(0o660).open()?;
    sems.set_val(FREE, SLOTS as u16)?;

    // The producer: an OS thread, blocking in semop like a C program.
    let writer = {
        let ring = seg.attach()?; // shmat(id, NULL, 0)
        let sems = sems.clone();
        std::thread::spawn(move || -> Result<(), svipc::Error> {
            for i in 0..=RECORDS {
                let text = if i < RECORDS { record(i) } else { String::new() }; // "" ends it
                let mut slot = [0u8; SLOT];
                slot[..2].copy_from_slice(&(text.len() as u16).to_le_bytes());
                slot[2..2 + text.len()].copy_from_slice(text.as_bytes());
                sems.blocking_semop(&[SemOp::new(FREE, -1)])?; // P(FREE)
                ring.write_at((i % SLOTS) * SLOT, &slot)?;
                sems.blocking_semop(&[SemOp::new(FILLED, 1)])?; // V(FILLED)
            }
            Ok(()) // the guard drops here: shmdt
        })
    };

    // The consumer: an async task; it finds both objects by key, asking for read (0400) on the
    // segment and read-write (0600) on the set, and attaches SHM_RDONLY.
    let reader = {
        let seg = consumer.shm_segment(key).mode(0o400).open()?;
        let sems = consumer.sem_set(key).mode(0o600).open()?;
        tokio::spawn(async move {
            let ring = seg.attach_read_only()?;
            let mut got = Vec::new();
            for i in 0.. {
                sems.semop(&[SemOp::new(FILLED, -1)]).await?; // P(FILLED)
                let mut slot = [0u8; SLOT];
                ring.read_at((i % SLOTS) * SLOT, &mut slot)?;
                sems.semop(&[SemOp::new(FREE, 1)]).await?; // V(FREE)
                let len = usize::from(u16::from_le_bytes([slot[0], slot[1]]));
                if len == 0 {
                    break;
                }
                got.push(String::from_utf8(slot[2..2 + len].to_vec()).expect("the producer wrote UTF-8"));
            }
            Ok::<_, svipc::Error>(got)
        })
    };

    writer.join().expect("the producer thread")?;
    let got = reader.await??;
    assert_eq!(got, (0..RECORDS).map(record).collect::<Vec<_>>()); // all of them, in order
    assert_eq!(sems.get_all()?, [SLOTS as u16, 0]); // every slot free again
    assert_eq!(sems.get_pid(FREE)?, 301); // the consumer's V(FREE) came last
    assert_eq!(seg.stat()?.shm_nattch, 0); // both guards dropped: both shmdt'd
    println!("{RECORDS} records through {SLOTS} slots of {SLOT} bytes, in order; last: {:?}", got.last());

    seg.remove()?; // shmctl(IPC_RMID): nobody attached, destroyed at once
    sems.remove()?; // semctl(IPC_RMID)
    assert!(ns.ipcs().entries().is_empty());
    Ok(())
}
