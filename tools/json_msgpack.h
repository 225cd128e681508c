/*
 * json_msgpack: JSON (jansson) to msgpack for publishing, and msgpack to JSON
 * for display. The two are not inverses: msgpack has types JSON lacks (bin,
 * ext, non-string keys), which the display side renders as strings.
 */
#ifndef MANDATE_JSON_MSGPACK_H
#define MANDATE_JSON_MSGPACK_H

#include <stddef.h>
#include <jansson.h>
#include <msgpack.h>

/* Nesting of arrays/objects a publisher's JSON may have before packing refuses it. */
#define JSON_MSGPACK_MAX_DEPTH 64

/*
 * Packs j: object -> map (string keys), array -> array, string -> str,
 * integer >= 0 -> uint, integer < 0 -> int, real -> float64, true/false ->
 * bool, null -> nil. max_depth counts containers: 1 allows a top-level
 * object or array of scalars only. Returns 0, or -ELOOP when the nesting is
 * deeper, with err (may be NULL) set to e.g. ".a.b[2]: nested deeper than 8
 * levels" (a jq-style path from the top); nothing is packed then.
 */
int json_msgpack_pack(msgpack_packer *pk, const json_t *j, unsigned max_depth, char *err,
                      size_t err_size);

/*
 * Converts o into a new JSON value (the caller's reference) for display:
 * str -> string (or "hex:..." when it is not UTF-8 or holds a NUL byte),
 * bin -> lowercase hex string, ext -> {"ext": type, "hex": "..."}, a uint
 * above INT64_MAX -> its decimal string, NaN/inf -> "nan"/"inf"/"-inf",
 * a map key that is not a string -> its compact JSON text. Never NULL
 * (aborts on allocation failure, like the rest of the tools).
 */
json_t *json_msgpack_to_json(const msgpack_object *o);

/* Lowercase hex of len bytes into out, which must hold 2 * len + 1 bytes. */
void json_msgpack_hex(const void *bytes, size_t len, char *out);

#endif
