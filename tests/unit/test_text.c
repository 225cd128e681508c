/*
 * text: the helpers every codec of outside bytes relies on, tested directly
 * with hostile input: numbers that strtoull would bend, UTF-8 that is
 * overlong, a surrogate, past U+10FFFF or cut short, and quoting.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "proto/text.h"

Test(text, parse_u64_takes_digits_only)
{
    uint64_t v = 7;
    cr_expect_eq(text_parse_u64("0", 0, 10, &v), 0);
    cr_expect_eq(v, 0);
    cr_expect_eq(text_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    cr_expect_eq(v, UINT64_MAX);
    static const char *const not_digits[] = {"",     " 1",  "1 ",    "+1", "-1",
                                             "0x10", "1e3", "12abc", "１"};
    for (size_t i = 0; i < sizeof not_digits / sizeof not_digits[0]; i++) {
        v = 7;
        cr_expect_eq(text_parse_u64(not_digits[i], 0, UINT64_MAX, &v), -EINVAL, "'%s'",
                     not_digits[i]);
        cr_expect_eq(v, 7, "'%s' changed the result", not_digits[i]);
    }
    cr_expect_eq(text_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -EOVERFLOW);
    cr_expect_eq(text_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -EOVERFLOW);
    /* Both ends of the range, both ways. */
    cr_expect_eq(text_parse_u64("1", 1, 5, &v), 0);
    cr_expect_eq(text_parse_u64("5", 1, 5, &v), 0);
    cr_expect_eq(text_parse_u64("0", 1, 5, &v), -ERANGE);
    cr_expect_eq(text_parse_u64("6", 1, 5, &v), -ERANGE);
}

Test(text, utf8_valid_refuses_what_rfc_3629_forbids)
{
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"plain ascii", true},
        {"Phòng Thông tin - Báo chí", true},
        {"\xf0\x9f\x98\x80", true},  /* U+1F600 */
        {"\xc0\xaf", false},         /* overlong '/' */
        {"\xe0\x80\xaf", false},     /* overlong, three bytes */
        {"\xed\xa0\x80", false},     /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", false}, /* U+110000 */
        {"\xe1\x80", false},         /* cut short */
        {"\x80", false},             /* lone continuation */
        {"\xff", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(text_utf8_valid(cases[i].s, strlen(cases[i].s)), cases[i].ok, "case %zu", i);
}

Test(text, prefix_never_splits_a_character_and_quote_is_bounded)
{
    const char *s = "aé€"; /* 1 + 2 + 3 bytes */
    cr_expect_eq(text_utf8_prefix(s, strlen(s), 2), 1, "é would be split");
    cr_expect_eq(text_utf8_prefix(s, strlen(s), 3), 3);
    cr_expect_eq(text_utf8_prefix(s, strlen(s), 5), 3, "€ would be split");
    cr_expect_eq(text_utf8_prefix(s, strlen(s), 6), 6);

    char out[TEXT_QUOTE_SIZE];
    text_quote(out, sizeof out, "a'\\\x01", 4);
    cr_expect_str_eq(out, "a\\x27\\x5c\\x01", "quote and backslash are escaped too");
    char big[200];
    memset(big, 0xff, sizeof big);
    text_quote(out, sizeof out, big, sizeof big);
    cr_expect_lt(strlen(out), sizeof out);
    cr_expect(strstr(out, "...") != NULL, "a long input is cut: %s", out);
}
