/*
 * fuzz_mdp: arbitrary bytes as what a worker or the broker may send. The
 * input is split into frames at each 0xff 0x00 pair; the frames go to both
 * frame parsers, and the whole input to the reply-body, request-body and
 * record-field decoders. Each must answer or refuse without crashing.
 * Built as a libFuzzer target or linked with replay_main.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mdp.h"
#include "proto/msgpack_scan.h"

#define MAX_FRAMES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mdp_frame frames[MAX_FRAMES];
    size_t n = 0, start = 0;
    for (size_t i = 0; i + 1 < size && n < MAX_FRAMES - 1; i++)
        if (data[i] == 0xff && data[i + 1] == 0x00) {
            frames[n++] = (struct mdp_frame){data + start, i - start};
            start = i + 2;
            i++;
        }
    frames[n++] = (struct mdp_frame){data + start, size - start};

    struct mdp_msg m;
    char err[MDP_ERROR_MAX];
    if (mdp_parse_from_worker(frames, n, &m, err) == 0 && m.command == MDP_READY &&
        (m.credit < 1 || m.credit > MDP_CREDIT_MAX))
        abort();
    (void)mdp_parse_from_broker(frames, n, &m, err);

    struct mdp_outcome out;
    mdp_outcome_decode(data, size, &out);
    if (out.note[MDP_NOTE_MAX] != '\0')
        abort();
    mdp_outcome_release(&out);

    struct mdp_request req;
    if (mdp_request_decode(data, size, &req, err) == 0)
        mdp_request_release(&req);

    size_t off, len;
    if (msgpack_scan_map_field(data, size, "event", &off, &len) == 0 && off + len > size)
        abort();
    return 0;
}
