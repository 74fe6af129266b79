/* The C client of examples/host_server/main.rs: sends `struct request` messages of type 1 to the
 * queue whose id it is given, and waits for each answer on type = its own pid.
 *
 *   cc -o host_client client.c && ./host_client MSQID COUNT
 *
 * Exit status 0 when every answer was right.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/msg.h>
#include <unistd.h>

/* Rust: #[repr(C)] struct Request { client: i32, a: i32, b: i32 } */
struct request {
    int32_t client;
    int32_t a;
    int32_t b;
};

/* Rust: #[repr(C)] struct Reply { sum: i64 } */
struct reply {
    int64_t sum;
};

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: host_client MSQID COUNT\n");
        return 64;
    }
    int msqid = atoi(argv[1]);
    int count = atoi(argv[2]);
    int32_t me = (int32_t)getpid();
    for (int i = 0; i < count; i++) {
        struct {
            long mtype;
            struct request body;
        } req = {1, {me, i, 1000 * me}};
        if (msgsnd(msqid, &req, sizeof req.body, 0) != 0) {
            perror("msgsnd");
            return 1;
        }
        struct {
            long mtype;
            struct reply body;
        } rep;
        if (msgrcv(msqid, &rep, sizeof rep.body, me, 0) != (ssize_t)sizeof rep.body) {
            perror("msgrcv");
            return 2;
        }
        if (rep.body.sum != (int64_t)i + 1000 * (int64_t)me) {
            fprintf(stderr, "client %d: wrong sum %lld\n", me, (long long)rep.body.sum);
            return 3;
        }
    }
    printf("client %d: %d answers checked\n", me, count);
    return 0;
}
