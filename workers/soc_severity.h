/*
 * soc_severity: a security feed's severity, normalised to P1 (worst) .. P4
 * per DOMAIN.md "Security operations feed". severity_raw may be the bare
 * value or the feed's own object around it:
 *   ocsf   severity_id 5-6 P1, 4 P2, 3 P3, else P4   (or {"severity_id": N})
 *   cef    0-10: 9-10 P1, 7-8 P2, 4-6 P3, 0-3 P4; or the CEF names Low,
 *          Medium, High, Very-High                   (or {"severity": V})
 *   wazuh  rule level >= 12 P1, 10-11 P2, 7-9 P3, < 7 P4
 *                                                    (or {"rule": {"level": N}}, {"level": N})
 *   misp   threat_level_id 1 P2, 2 P3, 3-4 P4        (or {"threat_level_id": N})
 *   stix   a label mapped by the catalogue's limit.stix_labels
 *                                                    (or {"x_severity": label})
 * Numbers may come as strings of digits, as these feeds often send them.
 */
#ifndef MANDATE_SOC_SEVERITY_H
#define MANDATE_SOC_SEVERITY_H

#include <stddef.h>
#include <msgpack.h>

/*
 * Returns 1..4, or 0 if raw cannot be read in format (why says how; the
 * caller then treats it as P4 and says so). stix_labels: "label:P ...".
 */
int soc_priority(const char *format, const msgpack_object *raw, const char *stix_labels, char *why,
                 size_t size);

#endif
