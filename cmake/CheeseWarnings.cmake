# Warning flags live on an INTERFACE target that every cheesechain target links.
add_library(cheese_warnings INTERFACE)
target_compile_options(cheese_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(CHEESE_WERROR)
  target_compile_options(cheese_warnings INTERFACE -Werror)
endif()
