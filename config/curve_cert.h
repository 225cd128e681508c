/*
 * curve_cert: CURVE key files in the ZeroMQ certificate text format (ZPL,
 * ZeroMQ RFC 4) that CZMQ's zcert and pyzmq's zmq.auth.create_certificates
 * write: a `metadata` section and a `curve` section with a Z85
 * `public-key` and, in the `_secret` file only, `secret-key`. NAME.key is
 * public, NAME.key_secret secret (mode 0600: a secret file that group or
 * others may read is refused). An agency that makes its keys with pyzmq
 * hands them over as they are (DESIGN.md "Security model").
 *
 * Key files are outside input: every error names file:line and the key.
 */
#ifndef MANDATE_CURVE_CERT_H
#define MANDATE_CURVE_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/ini_file.h"

#define CURVE_KEY_LEN       32
#define CURVE_KEY_Z85_LEN   40
#define CURVE_CERT_MAX_SIZE (64 * 1024) /* a certificate is a few hundred bytes */

struct curve_cert {
    uint8_t public_key[CURVE_KEY_LEN];
    char public_z85[CURVE_KEY_Z85_LEN + 1];
    bool has_secret;
    uint8_t secret_key[CURVE_KEY_LEN];
    char secret_z85[CURVE_KEY_Z85_LEN + 1];
};

/*
 * Parses a certificate's text; name is what errors call it. want_secret:
 * the text must hold a secret key (and it must match the public one).
 * Returns 0, or -EINVAL with err set (*ret then holds no key).
 */
int curve_cert_parse(const char *text, size_t len, const char *name, bool want_secret,
                     struct curve_cert *ret, struct config_error *err);
/* Reads and parses a file; a secret one must not be readable by group or others. */
int curve_cert_load(const char *path, bool want_secret, struct curve_cert *ret,
                    struct config_error *err);
/* Wipes the secret key (sodium_memzero). */
void curve_cert_clear(struct curve_cert *cert);

/* What a CURVE client connects with: its pair and the server's public key. */
struct curve_client {
    bool on;
    struct curve_cert pair;   /* with its secret */
    struct curve_cert server; /* public */
};
/*
 * Loads both files (ret->on on success). Returns 0, or -errno / -EINVAL with
 * err naming the file and *ret_server_failed telling which of the two it was.
 */
int curve_client_load(const char *pair_path, const char *server_path, struct curve_client *ret,
                      bool *ret_server_failed, struct config_error *err);

/*
 * Makes a new key pair and writes DIR/NAME.key (0644) and DIR/NAME.key_secret
 * (0600) in the format above, refusing to overwrite either. ret: the pair
 * (may be NULL). Returns 0 or -errno with err set.
 */
int curve_cert_generate(const char *dir, const char *name, struct curve_cert *ret,
                        struct config_error *err);

#endif
