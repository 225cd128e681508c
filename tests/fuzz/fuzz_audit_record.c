/*
 * fuzz_audit_record: arbitrary bytes as a stored audit record (the log file
 * may have been altered). Decoding must fail cleanly or yield the common
 * fields; the verifier must reach a verdict without crashing.
 * Built as a libFuzzer target or linked with replay_main.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/audit_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct audit_record rec;
    if (audit_record_decode(data, size, &rec) == 0) {
        if (rec.kind[sizeof rec.kind - 1] != '\0' || !rec.map)
            abort();
        (void)audit_record_field(&rec, "event");
        audit_record_release(&rec);
    }
    /* The same bytes as record 1 and then as record 2 of a chain carried on
     * from format 2: BLAKE2b-256 hashes the first, SHA-256 the second. */
    static const uint8_t zero[AUDIT_HASH_LEN];
    struct audit_verifier v;
    audit_verifier_init(&v, 1, zero, 2);
    audit_verifier_feed(&v, 1, data, size);
    audit_verifier_feed(&v, 2, data, size);
    (void)audit_verifier_finish(&v, NULL, 2);
    return 0;
}
