/* default_config: the shipped config/mandated.conf, compiled into every binary. */
#ifndef MANDATE_DEFAULT_CONFIG_H
#define MANDATE_DEFAULT_CONFIG_H

extern const char *const default_config_text;
extern const char *const default_config_name;

#endif
