/*
 * handler_outcome: the answer a handler builds, owned by the runtime and
 * reused from one request to the next so that the buffers warm up once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "proto/pack.h"
#include "proto/text.h"
#include "workers/handlers.h"

void
handler_outcome_init(struct handler_outcome *out)
{
    memset(out, 0, sizeof(*out));
    msgpack_sbuffer_init(&out->result);
    msgpack_packer_init(&out->result_pk, &out->result, pack_sbuffer_write);
    out->status = MDP_STATUS_DONE;
}

void
handler_outcome_reset(struct handler_outcome *out)
{
    out->status = MDP_STATUS_DONE;
    out->note[0] = '\0';
    msgpack_sbuffer_clear(&out->result);
    for (size_t i = 0; i < out->nemit; i++)
        msgpack_sbuffer_clear(&out->emit[i]);
    out->nemit = 0;
}

void
handler_outcome_destroy(struct handler_outcome *out)
{
    msgpack_sbuffer_destroy(&out->result);
    for (size_t i = 0; i < out->emit_cap; i++)
        msgpack_sbuffer_destroy(&out->emit[i]);
    free(out->emit);
    memset(out, 0, sizeof(*out));
}

void
handler_outcome_note(struct handler_outcome *out, const char *fmt, ...)
{
    /* Room past the cut, so that a cut inside a UTF-8 sequence can be seen and undone. */
    char buf[MDP_NOTE_MAX + 8];
    size_t n;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    n = text_utf8_prefix(buf, strlen(buf), MDP_NOTE_MAX);
    memcpy(out->note, buf, n);
    out->note[n] = '\0';
}

void
handler_outcome_emit(struct handler_outcome *out, const struct envelope_fields *f)
{
    if (out->nemit == out->emit_cap) {
        size_t cap = out->emit_cap ? 2 * out->emit_cap : 4;

        out->emit = xrealloc(out->emit, cap * sizeof(*out->emit));
        for (size_t i = out->emit_cap; i < cap; i++)
            msgpack_sbuffer_init(&out->emit[i]);
        out->emit_cap = cap;
    }
    envelope_encode(f, &out->emit[out->nemit++]);
}
