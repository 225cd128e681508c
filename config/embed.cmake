# Turns the default config file into a C array, so that the daemon carries its
# shipped defaults without depending on xxd or any file at run time.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT}
  "/* Generated from config/mandated.conf by config/embed.cmake; do not edit. */\n"
  "#include \"config/default_config.h\"\n"
  "static const char s_bytes[] = {${bytes} 0x00};\n"
  "const char *const default_config_text = s_bytes;\n"
  "const char *const default_config_name = \"(embedded default)\";\n")
