# Use ccache when it is installed; `make test` installs it.
find_program(CHEESE_CCACHE ccache)
if(CHEESE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CHEESE_CCACHE}")
endif()
