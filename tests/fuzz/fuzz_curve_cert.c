/*
 * fuzz_curve_cert: arbitrary text as a CURVE certificate, public and
 * secret. Whatever parses holds a key that decodes (and, for a secret one,
 * the public key its secret derives); whatever fails explains itself and
 * holds no secret. Built as a libFuzzer target or linked with replay_main.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "config/curve_cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int secret = 0; secret < 2; secret++) {
        struct curve_cert c;
        struct config_error err;
        if (curve_cert_parse((const char *)data, size, "fuzz.key", secret, &c, &err) == 0) {
            char again[CURVE_KEY_Z85_LEN + 1];
            if (strlen(c.public_z85) != CURVE_KEY_Z85_LEN ||
                !zmq_z85_encode(again, c.public_key, CURVE_KEY_LEN) ||
                strcmp(again, c.public_z85) != 0 || (secret && !c.has_secret))
                abort();
            if (c.has_secret &&
                (zmq_curve_public(again, c.secret_z85) != 0 || strcmp(again, c.public_z85) != 0))
                abort();
            curve_cert_clear(&c);
        } else {
            char msg[700];
            config_error_format(&err, msg, sizeof msg);
            if (msg[0] == '\0' || c.has_secret)
                abort();
        }
    }
    return 0;
}
