/* id_streams: see id_streams.h. */
#include <string.h>

#include "daemon/id_streams.h"

void
id_streams_init(struct id_streams *s)
{
    memset(s, 0, sizeof *s);
}

/* The number of tails below id: where id would stand in the sorted array. */
static unsigned
s_rank(const struct id_streams *s, const uint8_t id[16])
{
    unsigned lo = 0, hi = s->n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (memcmp(s->tail[mid].id, id, 16) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool
id_streams_continue(struct id_streams *s, const uint8_t id[16])
{
    unsigned r = s_rank(s, id);
    if (r == 0 || memcmp(s->tail[r - 1].id, id, ID_STREAMS_PREFIX) != 0)
        return false;
    /* The tail below id moves up to it; the next tail is not below id
     * (s_rank), so the array stays sorted. An id equal to the next tail is
     * a resend: both then hold it, which only the order needs to allow. */
    memcpy(s->tail[r - 1].id, id, 16);
    s->tail[r - 1].used = ++s->clock;
    return true;
}

void
id_streams_start(struct id_streams *s, const uint8_t id[16])
{
    if (s->n == ID_STREAMS_MAX) {
        unsigned old = 0;
        for (unsigned i = 1; i < s->n; i++)
            if (s->tail[i].used < s->tail[old].used)
                old = i;
        memmove(&s->tail[old], &s->tail[old + 1], (s->n - old - 1) * sizeof s->tail[0]);
        s->n--;
    }
    unsigned r = s_rank(s, id);
    memmove(&s->tail[r + 1], &s->tail[r], (s->n - r) * sizeof s->tail[0]);
    memcpy(s->tail[r].id, id, 16);
    s->tail[r].used = ++s->clock;
    s->n++;
}
