# Turns the shipped data files (config/mandated.conf, config/catalogue.ini,
# config/calendar/*.ini) into C arrays, so that every binary carries them
# without depending on xxd or on any file at run time.
function(embed_bytes file var)
  file(READ ${file} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  set(${var} "${bytes} 0x00" PARENT_SCOPE)
endfunction()

set(text "/* Generated from config/ by config/embed.cmake; do not edit. */\n")
string(APPEND text "#include <stddef.h>\n#include \"config/embedded.h\"\n")

embed_bytes(${CONFIG} bytes)
string(APPEND text "static const char s_config[] = {${bytes}};\n")
string(APPEND text "const struct embedded_file embedded_config = {\"(embedded default)\", s_config};\n")

embed_bytes(${CATALOGUE} bytes)
string(APPEND text "static const char s_catalogue[] = {${bytes}};\n")
string(APPEND text "const struct embedded_file embedded_catalogue = {\"(embedded catalogue)\", s_catalogue};\n")

string(REPLACE "|" ";" CALENDARS "${CALENDARS}")
embed_bytes(${ASSETS} bytes)
string(APPEND text "static const char s_assets[] = {${bytes}};\n")
string(APPEND text "const struct embedded_file embedded_assets = {\"(embedded asset registry)\", s_assets};\n")

set(table "")
set(i 0)
foreach(cal ${CALENDARS})
  embed_bytes(${cal} bytes)
  get_filename_component(base ${cal} NAME)
  string(APPEND text "static const char s_calendar${i}[] = {${bytes}};\n")
  string(APPEND table "    {\"(embedded calendar ${base})\", s_calendar${i}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND text "const struct embedded_file embedded_calendars[] = {\n${table}    {NULL, NULL},\n};\n")

file(WRITE ${OUT} "${text}")
