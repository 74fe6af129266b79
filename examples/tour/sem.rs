//! The semaphore part of the tour: semget, semop (atomic over several semaphores), semctl,
//! SEM_UNDO at exit, and dining philosophers who take both forks in one semop.

use std::error::Error;

use svipc::{Credentials, Key, Namespace, SemOp};

/// Philosophers and the meals each eats.
const PHILOSOPHERS: u16 = 5;
const MEALS: u32 = 1000;

pub(crate) async fn run() -> Result<(), Box<dyn Error>> {
    println!("\n== semaphore sets ==");
    let ns = Namespace::new();
    let host = ns.process(Credentials::new(1000, 1000).with_pid(1));

    // semget(IPC_PRIVATE, 5, IPC_CREAT | 0600) and semctl(SETALL): one fork per semaphore.
    let table = host.sem_set(Key::PRIVATE).create(0o600).nsems(PHILOSOPHERS).open()?;
    table.set_all(&[1; PHILOSOPHERS as usize])?;
    println!("semget -> semid {}, forks {:?}", table.id(), table.get_all()?);

    // Each philosopher is an actor of its own; both forks are taken in ONE semop, so no
    // philosopher ever holds one fork while waiting for the other: no deadlock.
    let mut diners = Vec::new();
    for i in 0..PHILOSOPHERS {
        let me = ns.process(Credentials::new(1000, 1000).with_pid(100 + i32::from(i)));
        let forks = me.sem_set_by_id(table.id())?;
        diners.push(tokio::spawn(async move {
            let (left, right) = (i, (i + 1) % PHILOSOPHERS);
            for _ in 0..MEALS {
                // semop({left, -1}, {right, -1}): both or neither
                let both = forks.acquire_many(&[(left, 1), (right, 1)]).await?;
                tokio::task::yield_now().await; // eat
                drop(both); // semop({left, +1}, {right, +1})
            }
            Ok::<_, svipc::Error>(MEALS)
        }));
    }
    let mut meals = 0;
    for d in diners {
        meals += d.await??;
    }
    println!("{PHILOSOPHERS} philosophers ate {meals} meals; forks {:?}", table.get_all()?);

    // SEM_UNDO: an actor that takes a fork with SEM_UNDO and goes away gives it back.
    {
        let careless = ns.process(Credentials::new(1000, 1000).with_pid(999));
        let forks = careless.sem_set_by_id(table.id())?;
        forks.semop(&[SemOp::new(0, -1).undo()]).await?;
        println!("pid 999 took fork 0 with SEM_UNDO: {:?}", table.get_all()?);
    } // the actor "exits": exit_sem gives the fork back
    println!("after pid 999 exits: {:?} (sempid {})", table.get_all()?, table.get_pid(0)?);

    // IPC_NOWAIT, semctl(IPC_STAT), IPC_RMID
    table.set_val(2, 0)?;
    let e = table.try_semop(&[SemOp::new(2, -1)]).unwrap_err();
    println!("semop(IPC_NOWAIT) on an empty semaphore: {e} (errno {})", e.errno());
    let ds = table.stat()?;
    println!("IPC_STAT: nsems {}, mode {:o}, otime {}", ds.nsems, ds.perm.mode, ds.otime);
    table.remove()?;
    println!("IPC_RMID; GETVAL now: {}", table.get_val(0).unwrap_err());
    Ok(())
}
