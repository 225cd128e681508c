/*
 * embedded: the shipped data files, compiled into every binary so that the
 * daemon and its workers run out of the box without any file: the default
 * config, the type catalogue, the working-day calendars and an example
 * asset registry.
 */
#ifndef MANDATE_EMBEDDED_H
#define MANDATE_EMBEDDED_H

struct embedded_file {
    const char *name; /* what errors call it, e.g. "(embedded default)" */
    const char *text; /* NUL-terminated */
};

extern const struct embedded_file embedded_config;    /* config/mandated.conf */
extern const struct embedded_file embedded_catalogue; /* config/catalogue.ini */
extern const struct embedded_file embedded_assets;    /* config/assets.ini, an example */
/* config/calendar/YYYY.ini in year order, ended by a NULL name. */
extern const struct embedded_file embedded_calendars[];

#endif
