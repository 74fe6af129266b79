/* The C peer of tests/host.rs: a plain C program that talks System V IPC with the Rust
 * side through the host kernel, with nothing but <sys/msg.h>, <sys/sem.h>, <sys/shm.h>
 * and plain struct declarations.
 *
 *   peer orders MSQID   receive `struct order` messages of type 1 (msgrcv with msgtyp 1,
 *                       so other types stay queued), answer each with type 2 carrying
 *                       qty * 2 and price + 1; id 0 ends. Then send "hello from C" as
 *                       type 5 text and exit.
 *   peer echo MSQID     answer each 8-byte message of type 1 with the same bytes as
 *                       type 2 (a C-to-Rust ping-pong); all bits set ends.
 *   peer sem SEMID N    N rounds of: wait on semaphore 0 (-1), post semaphore 1 (+1).
 *   peer shm SHMID      write a text and a counter, publish with a release store of the
 *                       flag at offset 0, wait (acquire) for the Rust reply flag at
 *                       offset 4, check the reply text, exit 0 if it matches.
 *
 * Exit status 0 on success; anything else is a failure the test reports.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

/* The Rust side's `#[repr(C)] struct Order { id: u64, qty: u32, price: i32 }`. */
struct order {
    uint64_t id;
    uint32_t qty;
    int32_t price;
};

struct order_msg {
    long mtype;
    struct order body;
};

struct text_msg {
    long mtype;
    char text[64];
};

static int orders(int msqid) {
    for (;;) {
        struct order_msg m;
        ssize_t n = msgrcv(msqid, &m, sizeof m.body, 1, 0);
        if (n != (ssize_t)sizeof m.body) {
            perror("msgrcv order");
            return 2;
        }
        if (m.body.id == 0)
            break;
        m.mtype = 2;
        m.body.qty *= 2;
        m.body.price += 1;
        if (msgsnd(msqid, &m, sizeof m.body, 0) != 0) {
            perror("msgsnd reply");
            return 3;
        }
    }
    struct text_msg t = {.mtype = 5};
    strcpy(t.text, "hello from C");
    if (msgsnd(msqid, &t, strlen(t.text), 0) != 0) {
        perror("msgsnd text");
        return 4;
    }
    return 0;
}

static int echo(int msqid) {
    struct {
        long mtype;
        uint64_t v;
    } m;
    for (;;) {
        if (msgrcv(msqid, &m, sizeof m.v, 1, 0) != (ssize_t)sizeof m.v) {
            perror("msgrcv echo");
            return 8;
        }
        m.mtype = 2;
        if (msgsnd(msqid, &m, sizeof m.v, 0) != 0) {
            perror("msgsnd echo");
            return 9;
        }
        if (m.v == UINT64_MAX)
            return 0;
    }
}

static int sem(int semid, int rounds) {
    for (int i = 0; i < rounds; i++) {
        struct sembuf wait = {.sem_num = 0, .sem_op = -1, .sem_flg = 0};
        struct sembuf post = {.sem_num = 1, .sem_op = 1, .sem_flg = 0};
        if (semop(semid, &wait, 1) != 0 || semop(semid, &post, 1) != 0) {
            perror("semop");
            return 5;
        }
    }
    return 0;
}

static int shm(int shmid) {
    unsigned char *p = shmat(shmid, NULL, 0);
    if (p == (void *)-1) {
        perror("shmat");
        return 6;
    }
    const char *text = "written by C";
    memcpy(p + 64, text, strlen(text));
    *(uint64_t *)(p + 8) = 0x0123456789abcdefULL;
    __atomic_store_n((uint32_t *)p, 1, __ATOMIC_RELEASE); /* publish */
    while (__atomic_load_n((uint32_t *)(p + 4), __ATOMIC_ACQUIRE) != 1)
        usleep(100);
    int ok = memcmp(p + 128, "read by Rust", 12) == 0;
    shmdt(p);
    return ok ? 0 : 7;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "orders") == 0)
        return orders(atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "echo") == 0)
        return echo(atoi(argv[2]));
    if (argc >= 4 && strcmp(argv[1], "sem") == 0)
        return sem(atoi(argv[2]), atoi(argv[3]));
    if (argc >= 3 && strcmp(argv[1], "shm") == 0)
        return shm(atoi(argv[2]));
    fprintf(stderr, "usage: peer orders MSQID | echo MSQID | sem SEMID N | shm SHMID\n");
    return 64;
}
