#include "bench/support/bench_event.h"

#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "proto/pack.h"
#include "tests/support/sample_data.h"

void
bench_event_id(uint8_t id[ENVELOPE_ID_LEN], unsigned phase, unsigned client, uint32_t index)
{
    memset(id, 0x5a, ENVELOPE_ID_LEN);
    id[0] = BENCH_EVENT_MAGIC;
    id[1] = (uint8_t)phase;
    id[2] = (uint8_t)client;
    id[3] = 0;
    bench_event_id_set_index(id, index);
}

uint32_t
bench_event_id_index(const uint8_t id[ENVELOPE_ID_LEN])
{
    return (uint32_t)id[4] << 24 | (uint32_t)id[5] << 16 | (uint32_t)id[6] << 8 | id[7];
}

void
bench_event_id_set_index(uint8_t id[ENVELOPE_ID_LEN], uint32_t index)
{
    id[4] = (uint8_t)(index >> 24);
    id[5] = (uint8_t)(index >> 16);
    id[6] = (uint8_t)(index >> 8);
    id[7] = (uint8_t)index;
}

/* data = a valid press notice with "n" (fixed-width u32) and "pad" (pad_len
 * bytes), and a fixed time: every event has the same size. */
static size_t
s_encode(msgpack_sbuffer *data, msgpack_sbuffer *out, const uint8_t *id, uint32_t n, size_t pad_len)
{
    msgpack_packer pk;

    msgpack_sbuffer_clear(data);
    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, data, pack_sbuffer_write);
    sample_notice_pack(&pk, n, pad_len);
    struct envelope_fields f = {.id = id,
                                .type = BENCH_EVENT_TYPE,
                                .source = BENCH_EVENT_SOURCE,
                                .time_ms = 1780000000000ull,
                                .data = data->data,
                                .data_len = data->size};
    envelope_encode(&f, out);
    return out->size;
}

int
bench_event_make(uint8_t out[BENCH_EVENT_BYTES], unsigned phase, unsigned client, uint32_t index)
{
    /* Found once: the envelope's size does not depend on the id or n. */
    static size_t pad_len;
    msgpack_sbuffer data, enc;
    uint8_t id[ENVELOPE_ID_LEN];
    int rc = -EINVAL;

    msgpack_sbuffer_init(&data);
    msgpack_sbuffer_init(&enc);
    bench_event_id(id, phase, client, index);
    for (size_t try = 1; try < BENCH_EVENT_BYTES && !pad_len; try++)
        if (s_encode(&data, &enc, id, index, try) == BENCH_EVENT_BYTES)
            pad_len = try;
    if (pad_len && s_encode(&data, &enc, id, index, pad_len) == BENCH_EVENT_BYTES) {
        memcpy(out, enc.data, BENCH_EVENT_BYTES);
        rc = 0;
    }
    msgpack_sbuffer_destroy(&data);
    msgpack_sbuffer_destroy(&enc);
    return rc;
}

int
bench_event_find_id(const uint8_t ev[BENCH_EVENT_BYTES], unsigned phase, unsigned client,
                    uint32_t index, size_t *ret_at)
{
    uint8_t id[ENVELOPE_ID_LEN];
    const uint8_t *hit = NULL;

    bench_event_id(id, phase, client, index);
    for (size_t i = 0; i + ENVELOPE_ID_LEN <= BENCH_EVENT_BYTES; i++) {
        if (memcmp(ev + i, id, ENVELOPE_ID_LEN) != 0)
            continue;
        if (hit)
            return -EINVAL;
        hit = ev + i;
    }
    if (!hit)
        return -EINVAL;
    *ret_at = (size_t)(hit - ev);
    return 0;
}
