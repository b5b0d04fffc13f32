/*
 * Baseline for `make bench`: raw protobuf-c unpack (and free) of a serialised Frame, with no
 * validation at all. The Swift codec is measured against this to show what its wrapping and
 * validation cost on top of the C library it is built on.
 *
 * Usage: unpack_bench FILE ITERATIONS ROUNDS [deep]
 * FILE holds one serialised Frame (no length prefix). With "deep", the PeerRecord inside each
 * SignedPeerRecord is unpacked too, which is the decoding depth of the Swift side.
 * Prints one line per round:
 *   ns_per_op <value>
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include "pex/v1/frame.pb-c.h"
#include "pex/v1/record.pb-c.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s FILE ITERATIONS ROUNDS [deep]\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) { fprintf(stderr, "read failed\n"); return 2; }
    fclose(f);
    long iterations = atol(argv[2]), rounds = atol(argv[3]);
    int deep = argc == 5 && strcmp(argv[4], "deep") == 0;
    size_t records = 0;
    for (long r = 0; r < rounds; r++) {
        double start = now_ns();
        for (long i = 0; i < iterations; i++) {
            Pex__V1__Frame *frame = pex__v1__frame__unpack(NULL, (size_t)size, buf);
            if (!frame) { fprintf(stderr, "unpack failed\n"); return 1; }
            /* Touch the result so the unpack cannot be optimised away. */
            if (frame->body_case == PEX__V1__FRAME__BODY_PEER_RESPONSE) {
                Pex__V1__PeerResponse *resp = frame->peer_response;
                records += resp->n_records;
                for (size_t k = 0; deep && k < resp->n_records; k++) {
                    ProtobufCBinaryData bytes = resp->records[k]->record;
                    Pex__V1__PeerRecord *rec = pex__v1__peer_record__unpack(NULL, bytes.len, bytes.data);
                    if (!rec) { fprintf(stderr, "record unpack failed\n"); return 1; }
                    records += rec->n_addresses;
                    pex__v1__peer_record__free_unpacked(rec, NULL);
                }
            }
            pex__v1__frame__free_unpacked(frame, NULL);
        }
        printf("ns_per_op %.1f\n", (now_ns() - start) / (double)iterations);
    }
    fprintf(stderr, "records seen: %zu\n", records);
    free(buf);
    return 0;
}
