# Writes a C++ source holding the dashboard's files (web/) as string literals, for
# aion::api::embedded_web_files(). Run at build time (cmake -P) with:
#   WEB_DIR  the web/ directory     OUT  the .cc file to write
# Only text files are embedded (the dashboard has no binary assets); a file holding the raw
# string delimiter or a NUL byte stops the build with its name.
file(GLOB_RECURSE files RELATIVE ${WEB_DIR} ${WEB_DIR}/*.html ${WEB_DIR}/*.js ${WEB_DIR}/*.css
     ${WEB_DIR}/*.json ${WEB_DIR}/*.svg ${WEB_DIR}/*.webmanifest)
list(FILTER files EXCLUDE REGEX "(^|/)(node_modules|\\.)")
list(SORT files)
set(delim "aion_web_")
set(body "// Generated from web/ by cmake/embed_web.cmake at build time; do not edit.\n")
string(APPEND body "#include \"aion/api/web_routes.h\"\n\nnamespace aion::api {\nnamespace {\n")
string(APPEND body "constexpr WebFile kFiles[] = {\n")
foreach(f IN LISTS files)
  file(READ ${WEB_DIR}/${f} text)
  string(FIND "${text}" ")${delim}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "web/${f} holds the sequence )${delim}\" which cannot be embedded")
  endif()
  # Raw string literals are limited in length by some compilers: split every 16 KB.
  string(LENGTH "${text}" len)
  set(pieces "")
  set(pos 0)
  while(pos LESS len)
    string(SUBSTRING "${text}" ${pos} 16000 piece)
    string(APPEND pieces "R\"${delim}(${piece})${delim}\"\n")
    math(EXPR pos "${pos} + 16000")
  endwhile()
  if(len EQUAL 0)
    set(pieces "\"\"")
  endif()
  string(APPEND body "    {\"${f}\", std::string_view(${pieces}, ${len})},\n")
endforeach()
string(APPEND body "};\n}  // namespace\n\n")
string(APPEND body "std::span<const WebFile> embedded_web_files() { return kFiles; }\n\n")
string(APPEND body "}  // namespace aion::api\n")
# Rewrite only on change, so an unchanged dashboard does not recompile.
if(EXISTS ${OUT})
  file(READ ${OUT} old)
  if(old STREQUAL body)
    return()
  endif()
endif()
file(WRITE ${OUT} "${body}")
