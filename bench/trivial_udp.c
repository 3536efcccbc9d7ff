/* trivial_udp.c - the UDP ceiling for the benchmark: answers every datagram on 127.0.0.1:PORT
 * with the same small reply, batched with recvmmsg/sendmmsg, on one thread.
 *
 *   trivial_udp -p PORT [-s SIZE]     (SIZE: reply bytes, default 20 = an empty announce reply)
 *
 * It parses nothing and stores nothing, so what it costs per request is the kernel's UDP path
 * plus the batched syscalls: a tracker cannot do better on this machine. Prints "ready" on
 * stdout once bound; runs until killed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define BUF 2048

int main(int argc, char **argv)
{
    int port = 0, size = 20, opt;
    while ((opt = getopt(argc, argv, "p:s:")) != -1) {
        if (opt == 'p')
            port = atoi(optarg);
        else if (opt == 's')
            size = atoi(optarg);
        else
            return 2;
    }
    if (port <= 0 || port > 65535 || size < 1 || size > BUF) {
        fprintf(stderr, "usage: trivial_udp -p PORT [-s SIZE]\n");
        return 2;
    }

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int sz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("trivial_udp: bind");
        return 1;
    }

    static unsigned char in[BATCH][BUF], reply[BUF];
    static struct sockaddr_in from[BATCH];
    static struct mmsghdr rmsg[BATCH], smsg[BATCH];
    static struct iovec riov[BATCH], siov;
    /* A fixed reply shaped like an announce reply with no peers (action 1, interval 1800). */
    reply[3] = 1;
    reply[10] = 0x07;
    reply[11] = 0x08;
    siov.iov_base = reply;
    siov.iov_len = (size_t)size;
    for (int i = 0; i < BATCH; i++) {
        riov[i] = (struct iovec){in[i], BUF};
        rmsg[i].msg_hdr.msg_iov = &riov[i];
        rmsg[i].msg_hdr.msg_iovlen = 1;
        rmsg[i].msg_hdr.msg_name = &from[i];
        smsg[i].msg_hdr.msg_iov = &siov;
        smsg[i].msg_hdr.msg_iovlen = 1;
        smsg[i].msg_hdr.msg_name = &from[i];
    }
    printf("ready\n");
    fflush(stdout);

    for (;;) {
        for (int i = 0; i < BATCH; i++)
            rmsg[i].msg_hdr.msg_namelen = sizeof from[i];
        /* Blocks for the first datagram, then takes whatever else is already queued. */
        int n = recvmmsg(fd, rmsg, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("trivial_udp: recvmmsg");
            return 1;
        }
        for (int i = 0; i < n; i++)
            smsg[i].msg_hdr.msg_namelen = rmsg[i].msg_hdr.msg_namelen;
        int done = 0;
        while (done < n) {
            int r = sendmmsg(fd, smsg + done, (unsigned)(n - done), 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                break; /* a full buffer drops the rest, as a busy server would */
            }
            done += r;
        }
    }
}
