/*
 * text: the small text helpers every codec of outside bytes needs: UTF-8
 * validity (RFC 3629), cutting a string without splitting a character,
 * quoting outside bytes safely in an error, and naming a msgpack type.
 */
#ifndef MANDATE_TEXT_H
#define MANDATE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

/* How many bytes of outside input text_quote() renders before "...". */
#define TEXT_QUOTE_MAX 24
/* A buffer that always holds text_quote()'s output. */
#define TEXT_QUOTE_SIZE (TEXT_QUOTE_MAX * 4 + 5) /* + "...", NUL, and the loop's guard */

/* Shortest form only, no surrogates, nothing past U+10FFFF. */
bool text_utf8_valid(const void *s, size_t n);

/*
 * The longest prefix of s[0..n), at most max bytes, that does not split a
 * UTF-8 sequence (s[max] must be readable when n > max).
 */
size_t text_utf8_prefix(const char *s, size_t n, size_t max);

/*
 * Renders outside bytes for an error message: printable ASCII as is (but '
 * and \), the rest as \xHH; at most TEXT_QUOTE_MAX bytes, then "...".
 */
void text_quote(char *out, size_t outsz, const void *bytes, size_t n);

/*
 * A whole decimal number in min..max, digits only: strtoull alone would take
 * " 12", "+12", "-12" (negated), "0x12" and "12abc". Returns 0, -EINVAL (not
 * digits), -EOVERFLOW (past 2^64 - 1) or -ERANGE (outside min..max).
 */
int text_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/*
 * "YYYY-MM-DD", exactly ten bytes, naming a real day of the proleptic
 * Gregorian calendar in years 1..9999 (2023-02-29 is refused).
 */
bool text_parse_date(const char *s, size_t len, int *ret_year, int *ret_month, int *ret_day);

/* "nil", "bool", "uint", "negative int", "float", "str", "bin", "array", "map", "ext". */
const char *text_msgpack_type(const msgpack_object *o);

#endif
