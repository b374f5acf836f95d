/* Pieces every bench program shares (linked into each, like results_json.c): clocks,
 * peak memory, and the pipe protocol by which a client and a server process exchange
 * only bytes (bench/throughput, bench/latency). */
#ifndef CN_BENCH_COMMON_H
#define CN_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic wall-clock seconds. */
double now_s(void);

/* CPU seconds of the whole process (every thread). */
double cpu_s(void);

/* The process's peak resident memory in bytes (getrusage's high-water mark). */
double peak_rss(void);

/* All len bytes through fd, across short transfers and EINTR; 0, or -1 on an error or
 * end of file. */
int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);

/* A message: a tag byte, a 64-bit length in host order (both ends are one machine) and
 * the bytes. recv_msg grows *buf (capacity *cap) as needed; 0 or -1. */
int send_msg(int fd, char tag, const void *b, uint64_t len);
int recv_msg(int fd, char *tag, uint8_t **buf, size_t *cap, uint64_t *len);

#endif
